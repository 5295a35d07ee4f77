/**
 * The one SSH connection from the host to the guest agent, shared by the engine socket, the
 * event channel and port forwarding. It reconnects with backoff whenever the connection drops
 * (the VM restarted, the guest was slow), until closed. Only the machine's own host key is
 * accepted, and only the machine's client key is offered.
 */
import { EventEmitter } from 'node:events';
import ssh2 from 'ssh2';
import type { Client, ClientChannel, PseudoTtyOptions } from 'ssh2';
import { AGENT_USER } from '@berth/vm-image/protocol';
import type { AgentAddress } from '../driver.js';
import { publicKeyBlob } from '../keys.js';
import { sleep } from '../util/wait.js';

export interface AgentLinkOptions {
  /** Where the agent listens now; asked again before every (re)connect. */
  address: () => Promise<AgentAddress | undefined>;
  /** OpenSSH private key the agent accepts. */
  clientKey: string;
  /** The agent's expected host key (OpenSSH public key line). */
  hostKey: string;
  /** Milliseconds for one connection attempt's handshake. */
  readyTimeoutMs?: number;
  /** Backoff bounds between attempts, in milliseconds. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface AgentLinkEvents {
  up: [Client];
  down: [Error | undefined];
  /** A failed attempt; the link keeps trying. */
  retry: [Error, number];
}

export class AgentLink extends EventEmitter<AgentLinkEvents> {
  private current: Client | undefined;
  private closed = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly expectedHostKey: Buffer;

  constructor(private readonly opts: AgentLinkOptions) {
    super();
    this.expectedHostKey = publicKeyBlob(opts.hostKey);
  }

  get connected(): boolean {
    return this.current !== undefined;
  }

  /** Starts connecting (and reconnecting) in the background. */
  start(): void {
    this.loop ??= this.run();
  }

  /** The live connection, waiting up to `timeoutMs` for one. */
  async client(timeoutMs = 30_000): Promise<Client> {
    if (this.current) return this.current;
    this.start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('up', onUp);
        reject(new Error(`the guest agent is not reachable (waited ${timeoutMs} ms)`));
      }, timeoutMs);
      const onUp = (c: Client) => {
        clearTimeout(timer);
        resolve(c);
      };
      this.once('up', onUp);
    });
  }

  /** Opens a stream to a unix socket in the guest (the engine). */
  async openUnix(path: string, timeoutMs?: number): Promise<ClientChannel> {
    const c = await this.client(timeoutMs);
    return new Promise((resolve, reject) =>
      c.openssh_forwardOutStreamLocal(path, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
  }

  /** Opens a TCP stream to `127.0.0.1:port` in the guest. */
  async openTcp(
    port: number,
    from: { address: string; port: number },
    timeoutMs?: number,
  ): Promise<ClientChannel> {
    const c = await this.client(timeoutMs);
    return new Promise((resolve, reject) =>
      c.forwardOut(from.address, from.port, '127.0.0.1', port, (err, ch) =>
        err ? reject(err) : resolve(ch),
      ),
    );
  }

  /** Runs a command in the guest; the channel is its stdin/stdout (stderr on `.stderr`). */
  async exec(
    command: string,
    opts: { pty?: PseudoTtyOptions } = {},
    timeoutMs?: number,
  ): Promise<ClientChannel> {
    const c = await this.client(timeoutMs);
    return new Promise((resolve, reject) =>
      c.exec(command, opts.pty ? { pty: opts.pty } : {}, (err, ch) =>
        err ? reject(err) : resolve(ch),
      ),
    );
  }

  /** An interactive shell in the guest. */
  async shell(pty: PseudoTtyOptions | false, timeoutMs?: number): Promise<ClientChannel> {
    const c = await this.client(timeoutMs);
    return new Promise((resolve, reject) =>
      c.shell(pty, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.current?.end();
    await this.loop;
  }

  private async run(): Promise<void> {
    const min = this.opts.minBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 5000;
    let backoff = min;
    while (!this.closed) {
      let client: Client;
      try {
        client = await this.connectOnce();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        this.emit('retry', err, backoff);
        await this.pause(backoff);
        backoff = Math.min(max, backoff * 2);
        continue;
      }
      backoff = min;
      this.current = client;
      const dropped = new Promise<Error | undefined>((resolve) => {
        let lastError: Error | undefined;
        client.on('error', (e) => (lastError = e));
        client.once('close', () => resolve(lastError));
      });
      this.emit('up', client);
      const why = await Promise.race([
        dropped,
        new Promise<undefined>((r) => (this.wake = () => r(undefined))),
      ]);
      this.current = undefined;
      client.end();
      if (!this.closed) {
        this.emit('down', why);
        await this.pause(min);
      } else {
        this.emit('down', undefined);
      }
    }
  }

  private async pause(ms: number): Promise<void> {
    await Promise.race([sleep(ms), new Promise<void>((r) => (this.wake = r))]);
  }

  private async connectOnce(): Promise<Client> {
    const address = await this.opts.address();
    if (!address) throw new Error('the machine is not running');
    if (address.transport !== 'tcp')
      throw new Error(`agent transport ${address.transport} is not supported by this host`);
    const client = new ssh2.Client();
    return new Promise((resolve, reject) => {
      const fail = (e: Error) => {
        client.removeAllListeners('ready');
        // A dying connection may report more than one error; none of them matter any more.
        client.on('error', () => undefined);
        client.end();
        reject(e);
      };
      client.once('ready', () => {
        client.off('error', fail);
        resolve(client);
      });
      client.once('error', fail);
      client.connect({
        host: address.host,
        port: address.port,
        username: AGENT_USER,
        privateKey: this.opts.clientKey,
        readyTimeout: this.opts.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 5000,
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => key.equals(this.expectedHostKey),
      });
    });
  }
}
