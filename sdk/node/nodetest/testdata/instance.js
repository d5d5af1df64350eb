// A module that exports a class instance: its methods, private fields
// and all.
class Counter {
  #n = 0;

  bump(by) {
    this.#n += by;
    return this.#n;
  }
}

module.exports = new Counter();
