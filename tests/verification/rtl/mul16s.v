// A 16-bit multiplier in a file without a final newline, next to a helper file also without one:
// joined by iverilog -E they used to read as endmodulemodule, and the width check was skipped.
module mul16s (input signed [15:0] a, input signed [15:0] b, output signed [31:0] y);
  assign y = a * b;
endmodule