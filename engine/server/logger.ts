/**
 * Engine logs: stderr until the connection is up (stdout belongs to the
 * protocol), then the client's `window/logMessage`. One channel at a time, so
 * a client that shows both does not show every line twice.
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
    if (this.remote) this.remote.error(message);
    else this.write("error", message);
  }

  warn(message: string): void {
    if (this.remote) this.remote.warn(message);
    else this.write("warn", message);
  }

  info(message: string): void {
    if (this.remote) this.remote.info(message);
    else this.write("info", message);
  }

  private write(level: string, message: string): void {
    process.stderr.write(`[ghostline ${level}] ${message}\n`);
  }
}
