// A helper module, no final newline.
module helper_inv (input x, output z);
  assign z = ~x;
endmodule