/**
 * Keeps the prototypes of primitive values in V8's fast mode.
 *
 * When an object becomes another's prototype, V8 may move it to dictionary mode ("setup mode", while
 * a class is being built) and makes it fast again only when a property is looked up through an object
 * that inherits from it. Strings and numbers are primitives, not such objects: once `class X extends
 * String` has run, String.prototype stays in dictionary mode for the life of the process, and every
 * `text.charCodeAt`, `slice` or `indexOf` in optimised code is a generic property lookup
 * (`Builtins_LoadIC`) instead of a constant. ioredis 6 defines such a class when it loads
 * (`VerbatimString`, resp/verbatim-string.js): in every function's process the kubelet decoders ran
 * at about 60 % of their speed and a plain character scan at 15 % (bench/decoders.ts, with and without
 * `--import ioredis`). One lookup through an object that inherits the prototype makes it fast again.
 */

/** The prototypes whose methods are mostly called on primitives, whose lookups never refresh them. */
const PRIMITIVE_PROTOTYPES: readonly object[] = [
  String.prototype,
  Number.prototype,
  Boolean.prototype,
  Symbol.prototype,
  BigInt.prototype,
];

/** Looks `constructor` up through `o`: what V8 needs to see to make `o`'s prototype chain fast. */
function lookUp(o: object): unknown {
  return (o as { constructor: unknown }).constructor;
}

/**
 * How often to look up through each prototype. V8 does it only from a lookup site that has type
 * feedback, which a function gets after a few calls (8 in Node 24, `--invocation-count-for-feedback-allocation`):
 * a margin over that, at a cost of microseconds. test/unit/shared/fast-prototypes.test.ts checks the effect
 * in every function's process.
 */
const LOOKUPS = 64;

/** Has V8 return the prototypes of primitives to fast mode, if a library's class left them slow. */
export function fastenPrimitivePrototypes(): void {
  for (const proto of PRIMITIVE_PROTOTYPES) {
    for (let i = 0; i < LOOKUPS; i++) lookUp(Object.create(proto));
  }
}
