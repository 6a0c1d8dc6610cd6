/**
 * Engine logs: stderr always (stdout belongs to the protocol), and the
 * client's `window/logMessage` once the connection is up.
 */
export interface RemoteConsole {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  log(message: string): void;
}

export class Logger {
  private remote: RemoteConsole | undefined;

  attach(remote: RemoteConsole): void {
    this.remote = remote;
  }

  error(message: string): void {
    this.write("error", message);
    this.remote?.error(message);
  }

  warn(message: string): void {
    this.write("warn", message);
    this.remote?.warn(message);
  }

  info(message: string): void {
    this.write("info", message);
    this.remote?.info(message);
  }

  private write(level: string, message: string): void {
    process.stderr.write(`[ghostline ${level}] ${message}\n`);
  }
}
