/**
 * The error hierarchy of simloom. Every error a user can fix says what to do.
 *
 * - {@link CheckError}: the model, the scenario or the caller is wrong (bad declaration, NaN in state…).
 * - {@link CapacityError}: a bounded buffer overflowed; names the option to raise.
 * - {@link BackendError}: a backend cannot run a kernel; names backend, kind and kernel.
 * - {@link InternalError}: a bug in simloom; please report it.
 * - {@link UsageError}: bad command-line input; the CLI prints its message and exits with code 2.
 *
 * Errors cross thread boundaries as {@link SerializedError} and are rebuilt with {@link reviveError}.
 */
export class SimloomError extends Error {
  /** Stable machine-readable code, e.g. `E_CHECK`. */
  readonly code: string;
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The model, the scenario or the caller is wrong. The message names what and how to fix it. */
export class CheckError extends SimloomError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'E_CHECK', options);
  }
}

/** A declared capacity was exceeded. `option` names the setting to raise. */
export class CapacityError extends SimloomError {
  readonly option: string;
  readonly needed: number;
  readonly capacity: number;
  constructor(what: string, option: string, needed: number, capacity: number) {
    super(
      `${what}: needed ${needed} but the capacity is ${capacity}; raise ${option} above ${needed}`,
      'E_CAPACITY',
    );
    this.option = option;
    this.needed = needed;
    this.capacity = capacity;
  }
}

/** A backend could not run something. */
export class BackendError extends SimloomError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'E_BACKEND', options);
  }
}

/** A bug in simloom itself. */
export class InternalError extends SimloomError {
  constructor(message: string, options?: ErrorOptions) {
    super(`${message} (this is a bug in simloom, please report it)`, 'E_INTERNAL', options);
  }
}

/** Bad user input on the command line or in a scenario parameter; exit code 2. */
export class UsageError extends SimloomError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'E_USAGE', options);
  }
}

/** The shape in which errors travel between threads (structured-clone safe). */
export interface SerializedError {
  name: string;
  message: string;
  code: string;
  stack?: string;
}

export function serializeError(err: unknown): SerializedError {
  if (err instanceof SimloomError) {
    return { name: err.name, message: err.message, code: err.code, stack: err.stack };
  }
  if (err instanceof Error) {
    return { name: err.name, message: err.message, code: 'E_UNKNOWN', stack: err.stack };
  }
  return { name: 'Error', message: String(err), code: 'E_UNKNOWN' };
}

/** Rebuilds an error that crossed a thread boundary, keeping its class where it is one of ours. */
export function reviveError(s: SerializedError, where: string): Error {
  const msg = s.message;
  let err: Error;
  switch (s.name) {
    case 'CheckError':
      err = new CheckError(msg);
      break;
    case 'BackendError':
      err = new BackendError(msg);
      break;
    case 'UsageError':
      err = new UsageError(msg);
      break;
    case 'InternalError':
      err = new SimloomError(msg, 'E_INTERNAL');
      err.name = 'InternalError';
      break;
    default:
      err = new SimloomError(`${where}: ${s.name}: ${msg}`, s.code);
      err.name = s.name;
  }
  if (s.stack) err.stack = `${err.name}: ${err.message}\n    (rebuilt from ${where})\n${s.stack}`;
  return err;
}
