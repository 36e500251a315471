// Deliberately wrong: b is missing from the sensitivity list, so simulation keeps stale products.
module mul4s_stale (input signed [3:0] a, input signed [3:0] b, output reg signed [7:0] y);
  always @(a) y = a * b;
endmodule
