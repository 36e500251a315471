// Behavioural signed multiplier with a forced-odd product (test RTL for opmodels import).
module mul8s_round (p, q, r);
  input signed [7:0] p;
  input signed [7:0] q;
  output signed [15:0] r;
  assign r = (p * q) | 16'sd1;
endmodule
