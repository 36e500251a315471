// Full adder cell of the Wallace tree (test RTL for opmodels import).
module fa (input x, input y, input z, output s, output c);
  assign s = x ^ y ^ z;
  assign c = (x & y) | (z & (x ^ y));
endmodule
