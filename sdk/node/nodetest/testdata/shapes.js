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

// The module handles its own uncaught exceptions: its worker carries on.
let caught = 0;
process.on('uncaughtException', () => {
  caught++;
});

module.exports.throwLater = function () {
  setImmediate(() => {
    throw new Error('later');
  });
  return 1;
};

module.exports.caught = function () {
  return caught;
};
