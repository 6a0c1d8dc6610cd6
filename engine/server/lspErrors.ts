/** The engine's error answers, each with the code the protocol declares and a message naming what it concerns. */
import { ResponseError } from "vscode-languageserver/node";
import { GhostlineErrorCodes } from "../protocol/protocol";

export function invalidParams(method: string, message: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.InvalidParams, `${method}: ${message}`);
}

export function unknownDocument(method: string, uri: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.UnknownDocument, `${method}: document ${uri} is not open (send textDocument/didOpen first)`);
}

export function positionOutOfRange(method: string, uri: string, message: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.PositionOutOfRange, `${method}: ${message} in ${uri}`);
}

export function modelUnavailable(method: string, why: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.ModelUnavailable, `${method}: no model is loaded: ${why}`);
}

export function cancelled(method: string, reason: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.RequestCancelled, `${method}: ${reason}`);
}

export function superseded(method: string, uri: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.ServerCancelled, `${method}: superseded by a newer request for ${uri}`);
}

export function evaluationFailed(method: string, message: string): ResponseError<void> {
  return new ResponseError(GhostlineErrorCodes.EvaluationFailed, `${method}: ${message}`);
}
