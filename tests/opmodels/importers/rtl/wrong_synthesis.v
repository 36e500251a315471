// Deliberately wrong: synthesis (Yosys defines SYNTHESIS) and simulation see different logic.
module mul4s_ifdef (input signed [3:0] a, input signed [3:0] b, output signed [7:0] y);
`ifdef SYNTHESIS
  assign y = a * b;
`else
  assign y = (a == 4'sd3) ? 8'sd0 : a * b;
`endif
endmodule
