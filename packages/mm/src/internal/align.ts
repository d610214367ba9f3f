/**
 * Alignment arithmetic on addresses that may exceed 2^31. `%` on such doubles goes through V8's
 * slow floating-point modulus; division and floor stay on the fast path.
 */
export const alignDown = (x: number, a: number) => Math.floor(x / a) * a;
export const alignUp = (x: number, a: number) => Math.ceil(x / a) * a;
export const isAligned = (x: number, a: number) => Math.floor(x / a) * a === x;
/** x mod a for x >= 0. */
export const offsetIn = (x: number, a: number) => x - Math.floor(x / a) * a;
