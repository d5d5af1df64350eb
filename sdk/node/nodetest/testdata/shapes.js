// Workestrator modules' shapes: `this` is the exports (state set on it
// stays), a last parameter passed to a constructor is no callback.
module.exports = function () {
  return typeof this;
};

module.exports.set = function (v) {
  this.state = v;
};

module.exports.get = function () {
  return this.state;
};

module.exports.err = function (type, message) {
  switch (type) {
    case 'TypeError': throw new TypeError(message);
    default: throw new Error(message);
  }
};
