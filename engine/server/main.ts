/**
 * The engine process: a language server on stdin/stdout. stdout carries only
 * the protocol; logs go to stderr and window/logMessage. The process exits
 * when stdin closes (0 after shutdown, 1 otherwise).
 */
import { createConnection, ProposedFeatures } from "vscode-languageserver/node";
import { EngineServer } from "./engineServer";

// Anything printed before the connection patches the console must not reach stdout.
console.log = (...args: unknown[]) => process.stderr.write(args.map(String).join(" ") + "\n");

const connection = createConnection(ProposedFeatures.all, process.stdin, process.stdout);
const server = new EngineServer(connection);

process.on("uncaughtException", (err) => {
  // Say why before going: the client shows the reason and decides whether to restart.
  server.health.error(`engine crashed: ${err.stack ?? err.message}`, "error");
  server.log.error(`uncaught exception: ${err.stack ?? err.message}`);
  setTimeout(() => process.exit(2), 100);
});
process.on("unhandledRejection", (reason) => server.log.error(`unhandled rejection: ${String((reason as Error)?.stack ?? reason)}`));

connection.listen();
