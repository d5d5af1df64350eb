// An ES module whose default export is a class instance.
class Service {
  hello(n) {
    return n + 1;
  }
}

export default new Service();
