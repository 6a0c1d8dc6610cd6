/**
 * Checks of request params that arrive as untyped JSON: shapes first, then
 * documents and positions against the open documents.
 */
import type { Position, Range } from "../protocol/protocol";
import { invalidParams, positionOutOfRange, unknownDocument } from "./lspErrors";
import type { DocumentStore } from "./documentStore";

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

export function expectUri(method: string, params: unknown): string {
  if (!isObject(params)) throw invalidParams(method, `expected an object of params but received ${JSON.stringify(params) ?? "nothing"}`);
  const td = params.textDocument;
  if (!isObject(td) || typeof td.uri !== "string" || td.uri.length === 0) {
    throw invalidParams(method, "expected textDocument.uri to be a non-empty string");
  }
  return td.uri;
}

export function expectPosition(method: string, value: unknown, name: string): Position {
  if (!isObject(value) || !isCount(value.line) || !isCount(value.character)) {
    throw invalidParams(method, `expected ${name} to be {line, character} with non-negative integers but received ${JSON.stringify(value) ?? "nothing"}`);
  }
  return { line: value.line, character: value.character };
}

export function expectRange(method: string, value: unknown): Range {
  if (!isObject(value)) throw invalidParams(method, `expected range to be {start, end} but received ${JSON.stringify(value) ?? "nothing"}`);
  return { start: expectPosition(method, value.start, "range.start"), end: expectPosition(method, value.end, "range.end") };
}

/** The document's lines, or an UnknownDocument error. */
export function expectDocument(method: string, docs: DocumentStore, uri: string): string[] {
  const lines = docs.lines(uri);
  if (!lines) throw unknownDocument(method, uri);
  return lines;
}

export function checkPosition(method: string, uri: string, lines: readonly string[], pos: Position, name = "position"): void {
  if (pos.line >= lines.length) {
    throw positionOutOfRange(method, uri, `${name} line ${pos.line} is past the last line ${lines.length - 1}`);
  }
  const length = lines[pos.line].length;
  if (pos.character > length) {
    throw positionOutOfRange(method, uri, `${name} character ${pos.character} is past the end of line ${pos.line} (length ${length})`);
  }
}

export function compare(a: Position, b: Position): number {
  return a.line - b.line || a.character - b.character;
}
