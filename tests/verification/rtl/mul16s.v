module mul16s (input signed [15:0] a, input signed [15:0] b, output signed [31:0] y);
  // A 16-bit multiplier in a file that starts with `module` and has no final newline, after a helper
  // file without one either: joined by iverilog -E they used to read as endmodulemodule, and the
  // width check was skipped.
  assign y = a * b;
endmodule