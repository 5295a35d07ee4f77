/**
 * The PowerShell the Hyper-V driver runs, built as strings by pure functions so they are
 * unit-tested on any host. Every value is quoted as a PowerShell single-quoted literal.
 */
export interface HyperVMachine {
  /** The Hyper-V VM name (`berth-<machine>`). */
  vmName: string;
  dir: string;
  cpus: number;
  memoryMiB: number;
  /** VHDX with the EFI system partition (first boot device). */
  efiBootDisk: string;
  /** The system image as a fixed VHD. */
  systemDisk: string;
  /** Data disk, dynamic VHDX. */
  dataDisk: string;
  dataDiskGiB: number;
  /** The guest config as a fixed VHD (protocol.ts's config disk). */
  configDisk: string;
  /** Named pipe the guest console (COM1) is connected to. */
  consolePipe: string;
  switchName: string;
}

export function psQuote(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function vmNameFor(machine: string): string {
  return `berth-${machine}`;
}

export function consolePipeFor(machine: string): string {
  return `\\\\.\\pipe\\berth-${machine}-com1`;
}

const strict = "$ErrorActionPreference = 'Stop'; $ProgressPreference = 'SilentlyContinue'";

/** Creates the VM unless it exists (idempotent, as Driver.create must be). */
export function createScript(m: HyperVMachine): string {
  const n = psQuote(m.vmName);
  return [
    strict,
    `if (-not (Test-Path -LiteralPath ${psQuote(m.dataDisk)})) { New-VHD -Path ${psQuote(m.dataDisk)} -SizeBytes ${m.dataDiskGiB}GB -Dynamic | Out-Null }`,
    `if (Get-VM -Name ${n} -ErrorAction SilentlyContinue) { exit 0 }`,
    `New-VM -Name ${n} -Generation 2 -MemoryStartupBytes ${m.memoryMiB}MB -NoVHD -SwitchName ${psQuote(m.switchName)} -Path ${psQuote(m.dir)} | Out-Null`,
    `Set-VMProcessor -VMName ${n} -Count ${m.cpus}`,
    `Set-VMMemory -VMName ${n} -DynamicMemoryEnabled $false`,
    `Set-VM -Name ${n} -AutomaticCheckpointsEnabled $false -AutomaticStartAction Nothing -AutomaticStopAction ShutDown`,
    // Debian's kernel is not signed for Hyper-V's default Secure Boot template.
    `Set-VMFirmware -VMName ${n} -EnableSecureBoot Off`,
    ...[m.efiBootDisk, m.systemDisk, m.dataDisk, m.configDisk].map(
      (disk) => `Add-VMHardDiskDrive -VMName ${n} -Path ${psQuote(disk)}`,
    ),
    `Set-VMFirmware -VMName ${n} -FirstBootDevice (Get-VMHardDiskDrive -VMName ${n} | Select-Object -First 1)`,
    `Set-VMComPort -VMName ${n} -Number 1 -Path ${psQuote(m.consolePipe)}`,
  ].join('\n');
}

export function startScript(vmName: string): string {
  return `${strict}\nStart-VM -Name ${psQuote(vmName)}`;
}

/** Graceful shutdown through the guest's shutdown integration service, else power off. */
export function stopScript(vmName: string, force: boolean): string {
  const n = psQuote(vmName);
  return force
    ? `${strict}\nStop-VM -Name ${n} -TurnOff -Force`
    : `${strict}\nStop-VM -Name ${n} -Force`;
}

/** Prints the VM's state (`Running`, `Off`…) or `Absent`. */
export function statusScript(vmName: string): string {
  return `$vm = Get-VM -Name ${psQuote(vmName)} -ErrorAction SilentlyContinue\nif ($vm) { $vm.State.ToString() } else { 'Absent' }`;
}

/** Prints the guest's first IPv4 address, as the Hyper-V KVP integration service reports it. */
export function addressScript(vmName: string): string {
  return `(Get-VMNetworkAdapter -VMName ${psQuote(vmName)}).IPAddresses | Where-Object { $_ -match '^\\d+\\.\\d+\\.\\d+\\.\\d+$' } | Select-Object -First 1`;
}

export function deleteScript(vmName: string): string {
  const n = psQuote(vmName);
  return `${strict}\nif (Get-VM -Name ${n} -ErrorAction SilentlyContinue) { Stop-VM -Name ${n} -TurnOff -Force -ErrorAction SilentlyContinue; Remove-VM -Name ${n} -Force }`;
}

/** powershell.exe's argv for a script. */
export function powershellArgs(script: string): string[] {
  return ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', script];
}
