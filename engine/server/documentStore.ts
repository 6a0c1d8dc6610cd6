/**
 * Open documents, kept in sync from incremental `didChange` events, with their
 * lines cached per version and the line of the last edit (for extra context).
 */
import { TextDocument, type TextDocumentContentChangeEvent } from "vscode-languageserver-textdocument";
import { splitLines } from "../completion/cursorContext";

export interface StoredDocument {
  doc: TextDocument;
  lastEditLine: number;
}

export class DocumentStore {
  private readonly docs = new Map<string, StoredDocument>();
  private readonly linesCache = new Map<string, { version: number; lines: string[] }>();

  open(uri: string, languageId: string, version: number, text: string): StoredDocument {
    const entry = { doc: TextDocument.create(uri, languageId, version, text), lastEditLine: 0 };
    this.docs.set(uri, entry);
    this.linesCache.delete(uri);
    return entry;
  }

  change(uri: string, version: number, changes: TextDocumentContentChangeEvent[]): StoredDocument | undefined {
    const entry = this.docs.get(uri);
    if (!entry) return undefined;
    entry.doc = TextDocument.update(entry.doc, changes, version);
    const last = changes[changes.length - 1];
    if (last && "range" in last) entry.lastEditLine = last.range.start.line + (last.text.match(/\n/g)?.length ?? 0);
    return entry;
  }

  close(uri: string): void {
    this.docs.delete(uri);
    this.linesCache.delete(uri);
  }

  get(uri: string): StoredDocument | undefined {
    return this.docs.get(uri);
  }

  lines(uri: string): string[] | undefined {
    const entry = this.docs.get(uri);
    if (!entry) return undefined;
    const cached = this.linesCache.get(uri);
    if (cached && cached.version === entry.doc.version) return cached.lines;
    const lines = splitLines(entry.doc.getText());
    this.linesCache.set(uri, { version: entry.doc.version, lines });
    return lines;
  }
}
