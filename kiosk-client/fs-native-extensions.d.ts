// The part of fs-native-extensions (a CommonJS package without types) the journal's lock uses.
declare module "fs-native-extensions" {
  /** A non-blocking exclusive lock (shared: false) on the open file `fd`: true when granted. */
  export function tryLock(
    fd: number,
    offset?: number,
    length?: number,
    options?: { shared?: boolean },
  ): boolean;
  export function unlock(fd: number, offset?: number, length?: number): void;
}
