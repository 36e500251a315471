// Lower-part-OR adder (Mahdiani et al., TCAS-I 2010), written by hand as an independent reference.
// The L low bits are ORed; the AND of the top low bits is the carry into the exact upper adder
// (spec section 7). L = 0 is the exact W-bit adder. Ports as the generated LOA modules.
module opm_loa #(parameter W = 32, parameter L = 0) (a, b, y);
  input signed [W-1:0] a;
  input signed [W-1:0] b;
  output signed [W-1:0] y;

  generate
    if (L == 0) begin : exact
      assign y = a + b;
    end else begin : approximate
      wire [L-1:0] low = a[L-1:0] | b[L-1:0];
      wire carry = a[L-1] & b[L-1];
      wire [W-L-1:0] high = a[W-1:L] + b[W-1:L] + {{(W-L-1){1'b0}}, carry};
      assign y = {high, low};
    end
  endgenerate
endmodule
