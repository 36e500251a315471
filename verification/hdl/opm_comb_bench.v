// Batch harness of the combinational bench (verification/opm_comb_bench.py is the checker).
// cocotb writes `count` vectors {a, b} to vectors.hex, toggles `start`; this module applies them to
// the DUT one per time step, stores y, writes results.hex and toggles `done`. Driving vectors from
// a memory keeps the simulator busy instead of paying cocotb's per-vector cost; cocotb compares.
// Defines: OPM_DUT (module), OPM_WA (operand width), OPM_WY (result width),
// OPM_PORT_A/B/Y (port names, default a b y), OPM_DUT_PARAMS (optional #( ) contents).
`ifndef OPM_PORT_A
  `define OPM_PORT_A a
`endif
`ifndef OPM_PORT_B
  `define OPM_PORT_B b
`endif
`ifndef OPM_PORT_Y
  `define OPM_PORT_Y y
`endif

module opm_comb_bench;
  localparam WA = `OPM_WA;
  localparam WY = `OPM_WY;
  localparam DEPTH = 65536;

  reg start = 1'b0;
  reg done = 1'b0;
  reg [31:0] count = 32'd0;

  reg [2*WA-1:0] vectors [0:DEPTH-1];
  reg [WY-1:0] results [0:DEPTH-1];
  reg signed [WA-1:0] a = 0;
  reg signed [WA-1:0] b = 0;
  wire signed [WY-1:0] y;
  integer i;

`ifdef OPM_DUT_PARAMS
  `OPM_DUT #(`OPM_DUT_PARAMS) dut (.`OPM_PORT_A(a), .`OPM_PORT_B(b), .`OPM_PORT_Y(y));
`else
  `OPM_DUT dut (.`OPM_PORT_A(a), .`OPM_PORT_B(b), .`OPM_PORT_Y(y));
`endif

  always @(start) begin
    $readmemh("vectors.hex", vectors, 0, count - 1);
    for (i = 0; i < count; i = i + 1) begin
      {a, b} = vectors[i];
      #1 results[i] = y;
    end
    $writememh("results.hex", results, 0, count - 1);
    done = ~done;
  end
endmodule
