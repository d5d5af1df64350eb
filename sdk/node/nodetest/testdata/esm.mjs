// An ES module: named function exports and a default export's object are
// methods; `this` is the namespace for the first, the object for the
// second.
export function named(x) {
  return this.other(x);
}

export function other(x) {
  return x * 10;
}

export default {
  twice(x) {
    return this.inc(x) * 2;
  },
  inc(x) {
    return x + 1;
  },
};
