using System.Runtime.InteropServices;
using Xunit;
using Suiron.Kernels;
using Suiron.Tensors;
using Avx2Block32Dot = Suiron.Kernels.Block32Dot<Suiron.Kernels.Avx2Ops, System.Runtime.Intrinsics.Vector256<byte>, System.Runtime.Intrinsics.Vector256<byte>>;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Both Block32 GEMM micro-kernels, called directly so that each is checked whichever this CPU's GEMM picks
/// (<see cref="Gemm.Block32KernelBroadcastScales"/> with AVX-512VL, <see cref="Gemm.Block32Kernel"/> without): every
/// (row, token) result must carry the bits of the decode kernel <see cref="Avx2Dot"/>'s *Scaled dot for that pair.
/// </summary>
public sealed unsafe class Block32GemmKernelTests
{
    private delegate float DecodeDot(byte* w, byte* a, float* yScales, int n);

    public static IEnumerable<object[]> Types() =>
        new[] { TensorType.Q8_0, TensorType.Q4_0, TensorType.Q5_0, TensorType.IQ4_NL, TensorType.MXFP4 }.Select(t => new object[] { t });

    private static DecodeDot Decode(TensorType type) => type switch
    {
        TensorType.Q8_0 => Avx2Block32Dot.Q8_0Scaled,
        TensorType.Q4_0 => Avx2Block32Dot.Q4_0Scaled,
        TensorType.Q5_0 => Avx2Block32Dot.Q5_0Scaled,
        TensorType.IQ4_NL => Avx2Block32Dot.IQ4NLScaled,
        _ => Avx2Block32Dot.MXFP4Scaled,
    };

    [SkippableTheory]
    [MemberData(nameof(Types))]
    public void Both_tiles_equal_the_decode_kernel_bit_for_bit(TensorType type)
    {
        Skip.IfNot(Avx2Dot.IsSupported, "this CPU has no AVX2 and FMA: the Block32 GEMM does not run here");
        const int cols = 8 * 32, rows = 2, tokens = 4, blocks = cols / 32;
        int rowBytes = (int)TensorTypes.RowBytes(type, cols), panelRow = cols + blocks * sizeof(float);
        var weights = KernelTestData.EncodeRows(type, KernelTestData.Gaussian(rows * cols, seed: 21, scale: 0.1f), rows, cols);
        if (type == TensorType.Q8_0)
        {
            // Edge quants the quantizer never writes but a file may hold: -128 (whose absolute value is 128 as a byte) and 127.
            for (int i = 0; i < 8; i++) { weights[2 + i] = 0x80; weights[rowBytes + 2 + 3 * i] = 0x7F; }
        }
        var activations = new byte[tokens][];
        for (int t = 0; t < tokens; t++) activations[t] = KernelTestData.EncodeActivations(type, KernelTestData.Gaussian(cols, seed: 40 + t, scale: 1 + t));
        activations[1] = KernelTestData.EncodeActivations(type, Enumerable.Range(0, cols).Select(i => i % 5 == 0 ? -3f : 0.5f).ToArray());

        byte* panel = (byte*)NativeMemory.AlignedAlloc((nuint)(rows * panelRow), 64);
        float* scales = stackalloc float[tokens * blocks];
        float* interleaved = stackalloc float[tokens * blocks];
        float* permuted = stackalloc float[rows * tokens];
        float* broadcast = stackalloc float[rows * tokens];
        var pins = activations.Select(a => GCHandle.Alloc(a, GCHandleType.Pinned)).ToArray();
        try
        {
            fixed (byte* w = weights)
            {
                for (int r = 0; r < rows; r++) Avx2Block32Dot.UnpackBlock32(type, w + r * rowBytes, panel + r * panelRow, cols);
                var y = new BlockQ8_0*[tokens];
                for (int t = 0; t < tokens; t++)
                {
                    y[t] = (BlockQ8_0*)pins[t].AddrOfPinnedObject();
                    Avx2Dot.ActivationScales(y[t], scales + t * blocks, blocks);
                    for (int b = 0; b < blocks; b++) interleaved[4 * b + t] = scales[t * blocks + b];
                }
                Gemm.Block32Kernel(panel, panel + panelRow, cols, y[0], y[1], y[2], y[3], interleaved, permuted);
                Gemm.Block32KernelBroadcastScales(panel, panel + panelRow, cols, y[0], y[1], y[2], y[3], interleaved, broadcast);
                var decode = Decode(type);
                for (int r = 0; r < rows; r++)
                    for (int t = 0; t < tokens; t++)
                    {
                        float expected = decode(w + r * rowBytes, (byte*)y[t], scales + t * blocks, cols);
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(permuted[tokens * r + t]),
                            $"{type} Block32Kernel row {r} token {t}: {expected} vs {permuted[tokens * r + t]}");
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(broadcast[tokens * r + t]),
                            $"{type} Block32KernelBroadcastScales row {r} token {t}: {expected} vs {broadcast[tokens * r + t]}");
                    }
            }
        }
        finally
        {
            foreach (var pin in pins) pin.Free();
            NativeMemory.AlignedFree(panel);
        }
    }
}
