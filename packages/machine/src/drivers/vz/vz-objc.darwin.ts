/**
 * Just enough Objective-C through koffi to build a VZVirtualMachine from a VzConfig: classes,
 * selectors, objc_msgSend with one exact prototype per argument shape (arm64 requires exact
 * prototypes; objc_msgSend is not variadic there), NSString/NSURL/NSArray, and a global block
 * for VZ's completion handlers. Loaded only on macOS, by the VZ host process.
 */
import koffi from 'koffi';
import type { VzAttachment, VzConfig } from './vz-config.js';

/** An Objective-C object pointer (koffi external). */
export type Id = object;

type Send = (...args: unknown[]) => unknown;

interface Runtime {
  getClass: (name: string) => Id | null;
  sel: (name: string) => Id;
  send: Send;
  sendStr: Send;
  sendU64: Send;
  sendBool: Send;
  sendPtr: Send;
  sendPtrBool: Send;
  sendUrlRoErr: Send;
  sendArray: Send;
  sendErr: Send;
  sendVoidPtr: Send;
  runLoopRunInMode: (mode: Id, seconds: number, returnAfterSourceHandled: boolean) => number;
  cfString: (text: string) => Id;
  globalBlockIsa: unknown;
}

let rt: Runtime | undefined;

function runtime(): Runtime {
  if (rt) return rt;
  const objc = koffi.load('/usr/lib/libobjc.A.dylib');
  // Loading the frameworks registers their classes with the runtime.
  koffi.load('/System/Library/Frameworks/Foundation.framework/Foundation');
  koffi.load('/System/Library/Frameworks/Virtualization.framework/Virtualization');
  const cf = koffi.load('/System/Library/Frameworks/CoreFoundation.framework/CoreFoundation');
  const system = koffi.load('/usr/lib/libSystem.B.dylib');
  const msg = (result: string, args: string[]) =>
    objc.func('objc_msgSend', result, ['void *', 'void *', ...args]) as Send;
  const cfCreate = cf.func(
    'void *CFStringCreateWithCString(void *alloc, const char *text, uint32_t encoding)',
  ) as Send;
  rt = {
    getClass: objc.func('void *objc_getClass(const char *name)') as (name: string) => Id | null,
    sel: objc.func('void *sel_registerName(const char *name)') as (name: string) => Id,
    send: msg('void *', []),
    sendStr: msg('void *', ['const char *']),
    sendU64: msg('void', ['uint64_t']),
    sendBool: msg('void', ['bool']),
    sendPtr: msg('void *', ['void *']),
    sendPtrBool: msg('void *', ['void *', 'bool']),
    sendUrlRoErr: msg('void *', ['void *', 'bool', '_Out_ void **']),
    sendArray: msg('void *', ['void **', 'uint64_t']),
    sendErr: msg('bool', ['_Out_ void **']),
    sendVoidPtr: msg('void', ['void *']),
    runLoopRunInMode: cf.func(
      'int32_t CFRunLoopRunInMode(void *mode, double seconds, bool returnAfterSourceHandled)',
    ) as Runtime['runLoopRunInMode'],
    cfString: (text) => cfCreate(null, text, 0x08000100) as Id, // kCFStringEncodingUTF8
    globalBlockIsa: system.symbol('_NSConcreteGlobalBlock'),
  };
  return rt;
}

function cls(name: string): Id {
  const c = runtime().getClass(name);
  if (!c) throw new Error(`Objective-C class ${name} not found (macOS too old?)`);
  return c;
}

/** `[Class alloc]`, to be sent one of its init messages. */
function alloc(name: string): Id {
  const r = runtime();
  return r.send(cls(name), r.sel('alloc')) as Id;
}

/** `[[Class alloc] init]` */
function make(name: string): Id {
  const r = runtime();
  return r.send(alloc(name), r.sel('init')) as Id;
}

/** `[[Class alloc] initWith…:arg]`, for an initialiser of one object argument. */
function makeWith(name: string, initializer: string, arg: Id): Id {
  const r = runtime();
  return r.sendPtr(alloc(name), r.sel(initializer), arg) as Id;
}

function nsString(text: string): Id {
  const r = runtime();
  return r.sendStr(cls('NSString'), r.sel('stringWithUTF8String:'), text) as Id;
}

function fileUrl(path: string): Id {
  const r = runtime();
  return r.sendPtr(cls('NSURL'), r.sel('fileURLWithPath:'), nsString(path)) as Id;
}

function nsArray(items: Id[]): Id {
  const r = runtime();
  return r.sendArray(cls('NSArray'), r.sel('arrayWithObjects:count:'), items, items.length) as Id;
}

function set(target: Id, setter: string, value: Id): void {
  const r = runtime();
  r.sendVoidPtr(target, r.sel(setter), value);
}

function errorText(err: unknown): string {
  if (!err) return 'unknown error';
  const r = runtime();
  const desc = r.send(err, r.sel('localizedDescription'));
  const text = r.send(desc, r.sel('UTF8String'));
  return typeof text === 'string' ? text : String(text);
}

/**
 * `[[Class alloc] initWithURL:path <flag>:flag error:&err]` (a file attachment); VZ's error
 * becomes `<what> <path>: <description>`.
 */
function makeFileAttachment(
  name: string,
  initializer: string,
  path: string,
  flag: boolean,
  what: string,
): Id {
  const r = runtime();
  const err: unknown[] = [null];
  const obj = r.sendUrlRoErr(
    alloc(name),
    r.sel(initializer),
    fileUrl(path),
    flag,
    err,
  ) as Id | null;
  if (!obj) throw new Error(`${what} ${path}: ${errorText(err[0])}`);
  return obj;
}

function diskAttachment(a: Extract<VzAttachment, { kind: 'disk-image' }>): Id {
  return makeFileAttachment(
    'VZDiskImageStorageDeviceAttachment',
    'initWithURL:readOnly:error:',
    a.path,
    a.readOnly,
    'VZ disk',
  );
}

/** Builds and validates a VZVirtualMachineConfiguration from the plain description. */
export function buildConfiguration(config: VzConfig): Id {
  const r = runtime();
  const vm = make('VZVirtualMachineConfiguration');
  r.sendU64(vm, r.sel('setCPUCount:'), config.cpuCount);
  r.sendU64(vm, r.sel('setMemorySize:'), config.memorySize);

  const boot = makeWith(
    'VZLinuxBootLoader',
    'initWithKernelURL:',
    fileUrl(config.bootLoader.kernelPath),
  );
  set(boot, 'setInitialRamdiskURL:', fileUrl(config.bootLoader.initialRamdiskPath));
  set(boot, 'setCommandLine:', nsString(config.bootLoader.commandLine));
  set(vm, 'setBootLoader:', boot);
  set(vm, 'setPlatform:', make('VZGenericPlatformConfiguration'));

  set(
    vm,
    'setStorageDevices:',
    nsArray(
      config.storageDevices.map((d) =>
        makeWith(
          'VZVirtioBlockDeviceConfiguration',
          'initWithAttachment:',
          diskAttachment(d.attachment),
        ),
      ),
    ),
  );

  set(
    vm,
    'setNetworkDevices:',
    nsArray(
      config.networkDevices.map((n) => {
        const dev = make('VZVirtioNetworkDeviceConfiguration');
        set(dev, 'setAttachment:', make('VZNATNetworkDeviceAttachment'));
        set(
          dev,
          'setMACAddress:',
          makeWith('VZMACAddress', 'initWithString:', nsString(n.macAddress)),
        );
        return dev;
      }),
    ),
  );

  set(
    vm,
    'setSerialPorts:',
    nsArray(
      config.serialPorts.map((p) => {
        const attachment = makeFileAttachment(
          'VZFileSerialPortAttachment',
          'initWithURL:append:error:',
          p.attachment.path,
          p.attachment.append,
          'VZ console',
        );
        const port = make('VZVirtioConsoleDeviceSerialPortConfiguration');
        set(port, 'setAttachment:', attachment);
        return port;
      }),
    ),
  );

  set(
    vm,
    'setDirectorySharingDevices:',
    nsArray(
      config.directorySharingDevices.map((s) => {
        const dir = r.sendPtrBool(
          alloc('VZSharedDirectory'),
          r.sel('initWithURL:readOnly:'),
          fileUrl(s.path),
          s.readOnly,
        ) as Id;
        const dev = makeWith(
          'VZVirtioFileSystemDeviceConfiguration',
          'initWithTag:',
          nsString(s.tag),
        );
        set(dev, 'setShare:', makeWith('VZSingleDirectoryShare', 'initWithDirectory:', dir));
        return dev;
      }),
    ),
  );

  set(
    vm,
    'setEntropyDevices:',
    nsArray(config.entropyDevices.map(() => make('VZVirtioEntropyDeviceConfiguration'))),
  );
  set(
    vm,
    'setMemoryBalloonDevices:',
    nsArray(
      config.memoryBalloonDevices.map(() =>
        make('VZVirtioTraditionalMemoryBalloonDeviceConfiguration'),
      ),
    ),
  );
  set(
    vm,
    'setSocketDevices:',
    nsArray(config.socketDevices.map(() => make('VZVirtioSocketDeviceConfiguration'))),
  );

  const err: unknown[] = [null];
  if (!(r.sendErr(vm, r.sel('validateWithError:'), err) as boolean)) {
    throw new Error(`VZ configuration invalid: ${errorText(err[0])}`);
  }
  return vm;
}

/**
 * A global block (flags BLOCK_IS_GLOBAL) wrapping a JS callback `(error) => void`: VZ's
 * completion handlers. Global blocks are never copied to the heap, so the struct may live in
 * memory koffi owns for the process's life.
 */
function completionBlock(onDone: (error: unknown) => void): unknown {
  const r = runtime();
  const Descriptor = koffi.struct({ reserved: 'unsigned long', size: 'unsigned long' });
  const Literal = koffi.struct({
    isa: 'void *',
    flags: 'int32_t',
    reserved: 'int32_t',
    invoke: 'void *',
    descriptor: koffi.pointer(Descriptor),
  });
  const Invoke = koffi.proto('void VzCompletion(void *block, void *error)');
  const invoke = koffi.register(
    (_block: unknown, error: unknown) => onDone(error),
    koffi.pointer(Invoke),
  );
  const descriptor: unknown = koffi.alloc(Descriptor, 1);
  koffi.encode(descriptor, Descriptor, { reserved: 0, size: koffi.sizeof(Literal) });
  const block: unknown = koffi.alloc(Literal, 1);
  koffi.encode(block, Literal, {
    isa: r.globalBlockIsa,
    flags: 1 << 28,
    reserved: 0,
    invoke,
    descriptor,
  });
  return block;
}

export interface VzMachine {
  start(): Promise<void>;
  /** Asks the guest to stop (ACPI-like power button); resolves when asked, not when stopped. */
  requestStop(): void;
  /** Stops it hard. */
  stop(): Promise<void>;
  /** 0 stopped, 1 running, 2 paused, 3 error, 4 starting… (VZVirtualMachineState). */
  state(): number;
}

export function createMachine(config: Id): VzMachine {
  const r = runtime();
  const vm = makeWith('VZVirtualMachine', 'initWithConfiguration:', config);
  const withCompletion = (selector: string) =>
    new Promise<void>((resolve, reject) => {
      const block = completionBlock((error) =>
        error ? reject(new Error(`VZ ${selector}: ${errorText(error)}`)) : resolve(),
      );
      r.sendVoidPtr(vm, r.sel(selector), block);
    });
  return {
    start: () => withCompletion('startWithCompletionHandler:'),
    stop: () => withCompletion('stopWithCompletionHandler:'),
    requestStop: () => {
      const err: unknown[] = [null];
      r.sendErr(vm, r.sel('requestStopWithError:'), err);
    },
    state: () => Number(r.send(vm, r.sel('state'))),
  };
}

/** Lets VZ's main-queue work run between Node's own events (VZ objects live on the main queue). */
export function pumpRunLoop(): NodeJS.Timeout {
  const r = runtime();
  const mode = r.cfString('kCFRunLoopDefaultMode');
  return setInterval(() => r.runLoopRunInMode(mode, 0.01, false), 20);
}
