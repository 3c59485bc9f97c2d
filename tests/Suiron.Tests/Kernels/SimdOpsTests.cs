using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Suiron.Kernels;
using Xunit;

namespace Suiron.Tests.Kernels;

/// <summary>
/// Every width's <see cref="ISimdOps{TVector, TLanes}"/> struct against the operations' definitions, computed here byte
/// by byte: the k-quant kernels are written once over these operations, so each struct that follows the definitions runs
/// them with the same integers. The portable 128-bit forms (what ARM64 without sdot runs) are checked directly too.
/// </summary>
public sealed unsafe class SimdOpsTests
{
    [Fact]
    public void The_128_bit_operations_follow_their_definitions()
    {
        CheckDefinitions<Vector128Ops, Vector128<byte>, Vector128Pair>();
        CheckBlock32Definitions<Vector128Ops, Vector128<byte>, Vector128Pair>();
        CheckTernaryDefinitions<Vector128Ops, Vector128<byte>, Vector128Pair>();
        CheckLatticeDefinitions<Vector128Ops, Vector128<byte>, Vector128Pair>();
    }

    [Fact]
    public void The_AVX2_operations_follow_their_definitions()
    {
        if (!Avx2Ops.IsSupported) return;
        CheckDefinitions<Avx2Ops, Vector256<byte>, Vector256<byte>>();
        CheckBlock32Definitions<Avx2Ops, Vector256<byte>, Vector256<byte>>();
        CheckTernaryDefinitions<Avx2Ops, Vector256<byte>, Vector256<byte>>();
        CheckLatticeDefinitions<Avx2Ops, Vector256<byte>, Vector256<byte>>();
    }

    [Fact]
    public void The_512_bit_twin_operations_follow_their_definitions()
    {
        if (!Avx512TwinOps.IsSupported) return;
        CheckDefinitions<Avx512TwinOps, Vector512<byte>, Vector256<byte>>();
        CheckBlock32Definitions<Avx512TwinOps, Vector512<byte>, Vector256<byte>>();
        CheckTernaryDefinitions<Avx512TwinOps, Vector512<byte>, Vector256<byte>>();
        CheckLatticeDefinitions<Avx512TwinOps, Vector512<byte>, Vector256<byte>>();
    }

    [SkippableFact]
    public void The_AVX512_operations_follow_their_definitions()
    {
        Skip.IfNot(Avx512Ops.IsSupported && Avx2Ops.IsSupported, "this CPU has no AVX-512 (F, BW)");
        CheckDefinitions<Avx512Ops, Vector512<byte>, Vector256<byte>>();
        CheckBlock32Definitions<Avx512Ops, Vector512<byte>, Vector256<byte>>();
        CheckTernaryDefinitions<Avx512Ops, Vector512<byte>, Vector256<byte>>();
        CheckLatticeDefinitions<Avx512Ops, Vector512<byte>, Vector256<byte>>();
    }

    [Fact]
    public void The_portable_multiply_adds_follow_their_definitions()
    {
        var random = new Random(11);
        for (int iteration = 0; iteration < 500; iteration++)
        {
            byte[] u = RandomBytes(random, 16), s = RandomBytes(random, 16);
            for (int i = 0; i < 16; i++) u[i] &= 63; // the kernels' unsigned side: six-bit quants
            var pairs = Vector128Ops.MultiplyAddAdjacentPortable(Vector128.Create(u), Vector128.Create(s).AsSByte());
            for (int k = 0; k < 8; k++) Assert.Equal((short)(u[2 * k] * (sbyte)s[2 * k] + u[2 * k + 1] * (sbyte)s[2 * k + 1]), pairs[k]);
            var words = Vector128Ops.MultiplyAddAdjacentPortable(Vector128.Create(u).AsInt16(), Vector128.Create(s).AsInt16());
            for (int k = 0; k < 4; k++)
            {
                short a0 = BitConverter.ToInt16(u, 4 * k), a1 = BitConverter.ToInt16(u, 4 * k + 2);
                short b0 = BitConverter.ToInt16(s, 4 * k), b1 = BitConverter.ToInt16(s, 4 * k + 2);
                Assert.Equal(a0 * b0 + a1 * b1, words[k]);
            }
        }
    }

    /// <summary>
    /// The block-32 family's operations. A block's element e of the vector's byte i: 16·half + i (16-byte vectors), i
    /// (32), or block i / 32, element i mod 32 (64: first, then second).
    /// </summary>
    private static void CheckBlock32Definitions<TOps, TVector, TLanes>() where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
    {
        int width = TOps.VectorBytes;
        var random = new Random(1000 + width);
        (int Block, int Element) Position(int i, int half) => width switch
        {
            16 => (0, 16 * half + i),
            32 => (0, i),
            _ => (i / 32, i % 32),
        };
        for (int iteration = 0; iteration < 300; iteration++)
        {
            byte[] a = RandomBytes(random, width), b = RandomBytes(random, width);
            byte[][] runs = [RandomBytes(random, 32), RandomBytes(random, 32)];
            uint[] bits = [(uint)random.Next() ^ ((uint)random.Next() << 16), (uint)random.Next() ^ ((uint)random.Next() << 16)];
            fixed (byte* first = runs[0]) fixed (byte* second = runs[1])
            {
                foreach (int half in width == 16 ? new[] { 0, 1 } : new[] { 0 })
                {
                    byte[] loaded = Bytes(TOps.LoadRuns(first, second, half));
                    byte[] nibbles = Bytes(TOps.Nibbles(first, second, half));
                    byte[] flags = Bytes(TOps.BitsToBytes(bits[0], bits[1], half));
                    for (int i = 0; i < width; i++)
                    {
                        (int block, int element) = Position(i, half);
                        Assert.Equal(runs[block][element], loaded[i]);
                        byte packed = runs[block][element % 16];
                        Assert.Equal(element < 16 ? packed & 15 : packed >> 4, nibbles[i]);
                        Assert.Equal(((bits[block] >> element) & 1) != 0 ? 0xFF : 0, flags[i]);
                    }
                }
            }

            // LookUp on RepeatLanes: byte i takes table byte index & 15 (indices 0..15, as the kernels pass).
            byte[] table = RandomBytes(random, 16), indices = a.Select(x => (byte)(x & 15)).ToArray();
            byte[] looked = Bytes(TOps.LookUp(TOps.RepeatLanes(Vector128.Create(table)), From<TVector>(indices)));
            for (int i = 0; i < width; i++) Assert.Equal(table[indices[i]], looked[i]);

            byte[] bytesDifference = Bytes(TOps.SubtractBytes(From<TVector>(a), From<TVector>(b)));
            byte[] wordsDifference = Bytes(TOps.SubtractInt16(From<TVector>(a), From<TVector>(b)));
            byte[] pairSums = Bytes(TOps.SumPairs(From<TVector>(a)));
            for (int i = 0; i < width; i++) Assert.Equal((byte)(a[i] - b[i]), bytesDifference[i]);
            for (int k = 0; k < width / 2; k++)
                Assert.Equal((short)(BitConverter.ToInt16(a, 2 * k) - BitConverter.ToInt16(b, 2 * k)), BitConverter.ToInt16(wordsDifference, 2 * k));
            for (int k = 0; k < width / 4; k++)
                Assert.Equal(BitConverter.ToInt16(a, 4 * k) + BitConverter.ToInt16(a, 4 * k + 2), BitConverter.ToInt32(pairSums, 4 * k));

            // MultiplyAddPairs with the unsigned side of five-bit quants (Q5_0, Q5_1): no pair saturates.
            byte[] quants = a.Select(x => (byte)(x & 31)).ToArray();
            byte[] pairs = Bytes(TOps.MultiplyAddPairs(From<TVector>(quants), From<TVector>(b)));
            for (int k = 0; k < width / 2; k++)
                Assert.Equal(quants[2 * k] * (sbyte)b[2 * k] + quants[2 * k + 1] * (sbyte)b[2 * k + 1], BitConverter.ToInt16(pairs, 2 * k));

            // SignedDot: x any byte (−128 included), y within ±127.
            byte[] y = b.Select(v => (sbyte)v == -128 ? (byte)0x81 : v).ToArray();
            if (iteration % 3 == 0) for (int i = 0; i < width; i++) { a[i] = 0x80; y[i] = (byte)(i % 2 == 0 ? 0x81 : 0x7F); }
            byte[] dot = Bytes(TOps.SignedDot(From<TVector>(a), From<TVector>(y)));
            for (int k = 0; k < width / 4; k++)
            {
                int sum = 0;
                for (int j = 0; j < 4; j++) sum += (sbyte)a[4 * k + j] * (sbyte)y[4 * k + j];
                Assert.Equal(sum, BitConverter.ToInt32(dot, 4 * k));
            }

            // BlockLanes: a block's eight lanes.
            for (int block = 0; block < (width == 64 ? 2 : 1); block++)
            {
                byte[] lanes = Bytes(TOps.BlockLanes(From<TVector>(a), From<TVector>(b), block));
                for (int k = 0; k < 8; k++)
                {
                    int expected = width switch
                    {
                        16 => k < 4 ? BitConverter.ToInt32(a, 4 * k) : BitConverter.ToInt32(b, 4 * (k - 4)),
                        32 => BitConverter.ToInt32(a, 4 * k),
                        _ => BitConverter.ToInt32(a, 32 * block + 4 * k),
                    };
                    Assert.Equal(expected, BitConverter.ToInt32(lanes, 4 * k));
                }
            }

            var stored = new byte[width + 16];
            fixed (byte* p = stored) TOps.Store(p + 8, From<TVector>(a));
            Assert.Equal(a, stored.AsSpan(8, width).ToArray());
            Assert.All(stored.Take(8).Concat(stored.Skip(8 + width)), x => Assert.Equal(0, x));
        }
    }

    /// <summary>
    /// The ternary family's operations. FromLanes: byte i of a 32-byte run is lower[i] below 16, else upper[i − 16]
    /// (16-byte vectors: half 0 lower, half 1 upper; 64: the second block's run above). BlockSums: each block's sum of
    /// its int16 words, the words spanning int16 (the kernels' stay far inside, but the sums are exact either way).
    /// </summary>
    private static void CheckTernaryDefinitions<TOps, TVector, TLanes>() where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
    {
        int width = TOps.VectorBytes;
        var random = new Random(2000 + width);
        byte[] edges = [0, 1, 42, 43, 85, 86, 127, 128, 129, 170, 171, 213, 214, 255];
        for (int iteration = 0; iteration < 300; iteration++)
        {
            byte[] a = RandomBytes(random, width), b = RandomBytes(random, width);
            if (iteration % 2 == 0)
                for (int i = 0; i < width; i++) { a[i] = edges[random.Next(edges.Length)]; b[i] = edges[random.Next(edges.Length)]; }
            TVector va = From<TVector>(a), vb = From<TVector>(b);

            byte[] byteSums = Bytes(TOps.AddBytes(va, vb));
            byte[] wordSums = Bytes(TOps.AddInt16(va, vb));
            byte[] counts = RandomBytes(random, width);
            byte[] incremented = Bytes(TOps.IncrementWhereGreater(From<TVector>(counts), va, vb));
            for (int i = 0; i < width; i++)
            {
                Assert.Equal((byte)(a[i] + b[i]), byteSums[i]);
                Assert.Equal((sbyte)a[i] > (sbyte)b[i] ? (byte)(counts[i] + 1) : counts[i], incremented[i]);
            }
            for (int k = 0; k < width / 2; k++)
                Assert.Equal((short)(BitConverter.ToInt16(a, 2 * k) + BitConverter.ToInt16(b, 2 * k)), BitConverter.ToInt16(wordSums, 2 * k));

            byte[][] lanes = [RandomBytes(random, 16), RandomBytes(random, 16), RandomBytes(random, 16), RandomBytes(random, 16)];
            foreach (int half in width == 16 ? new[] { 0, 1 } : new[] { 0 })
            {
                byte[] built = Bytes(TOps.FromLanes(Vector128.Create(lanes[0]), Vector128.Create(lanes[1]), Vector128.Create(lanes[2]), Vector128.Create(lanes[3]), half));
                for (int i = 0; i < width; i++)
                {
                    int runByte = width == 16 ? 16 * half + i : i % 32, block = width == 64 ? i / 32 : 0;
                    Assert.Equal(lanes[2 * block + runByte / 16][runByte % 16], built[i]);
                }
            }

            Vector128<int> sums = TOps.BlockSums(va, vb);
            int blockBytes = width == 64 ? 32 : width;
            int WordSum(byte[] bytes, int block)
            {
                int sum = 0;
                for (int k = 0; k < blockBytes / 2; k++) sum += BitConverter.ToInt16(bytes, block * blockBytes + 2 * k);
                return sum;
            }
            int[] expected = width == 64 ? [WordSum(a, 0), WordSum(a, 1), WordSum(b, 0), WordSum(b, 1)] : [WordSum(a, 0), WordSum(b, 0), WordSum(a, 0), WordSum(b, 0)];
            for (int k = 0; k < 4; k++) Assert.Equal(expected[k], sums[k]);
        }
    }

    /// <summary>
    /// The lattice family's operations: grid points by index (byte i of the vector is byte i mod 8 of point i / 8, or i mod
    /// 4 of point i / 4), sign bits to byte masks, bytes negated under a mask, the integer sum of the lanes, and
    /// a sub-block's int over its 32-byte run or a group of 16's int16 over its 16 bytes.
    /// </summary>
    private static void CheckLatticeDefinitions<TOps, TVector, TLanes>() where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
    {
        int width = TOps.VectorBytes;
        var random = new Random(2000 + width);
        var wideGrid = new ulong[2048];
        var narrowGrid = new uint[512];
        for (int i = 0; i < wideGrid.Length; i++) wideGrid[i] = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 63);
        for (int i = 0; i < narrowGrid.Length; i++) narrowGrid[i] = (uint)random.Next() ^ ((uint)random.Next(2) << 31);
        for (int iteration = 0; iteration < 300; iteration++)
        {
            var wideIndices = new ushort[width / 8];
            var narrowIndices = new ushort[width / 4];
            for (int i = 0; i < wideIndices.Length; i++) wideIndices[i] = (ushort)random.Next(wideGrid.Length);
            for (int i = 0; i < narrowIndices.Length; i++) narrowIndices[i] = (ushort)random.Next(narrowGrid.Length);
            byte[] values = RandomBytes(random, width), mask = new byte[width];
            for (int i = 0; i < width; i++) mask[i] = random.Next(2) == 0 ? (byte)0 : (byte)0xFF;
            byte[] byteIndices = RandomBytes(random, width / 4);
            byte[] widePoints, narrowPoints, byteIndexedPoints;
            fixed (ulong* g8 = wideGrid) fixed (uint* g4 = narrowGrid) fixed (ushort* i8 = wideIndices) fixed (ushort* i4 = narrowIndices)
            {
                widePoints = Bytes(TOps.GridPoints(g8, i8));
                narrowPoints = Bytes(TOps.GridPoints(g4, i4));
                fixed (byte* ib = byteIndices) byteIndexedPoints = Bytes(TOps.GridPoints(g4, ib));
            }
            byte[] negated = Bytes(TOps.NegateWhere(From<TVector>(values), From<TVector>(mask)));
            for (int i = 0; i < width; i++)
            {
                Assert.Equal((byte)(wideGrid[wideIndices[i / 8]] >> (8 * (i % 8))), widePoints[i]);
                Assert.Equal((byte)(narrowGrid[narrowIndices[i / 4]] >> (8 * (i % 4))), narrowPoints[i]);
                Assert.Equal((byte)(narrowGrid[byteIndices[i / 4]] >> (8 * (i % 4))), byteIndexedPoints[i]);
                Assert.Equal(mask[i] == 0 ? values[i] : (byte)-values[i], negated[i]);
            }
            var lanes = new int[8];
            int sum = 0;
            for (int k = 0; k < 8; k++)
            {
                lanes[k] = iteration % 5 == 0 ? int.MaxValue - random.Next(3) : random.Next(int.MinValue, int.MaxValue);
                sum = unchecked(sum + lanes[k]);
            }
            Assert.Equal(sum, TOps.IntegerSum(From<TLanes>(lanes)));

            // NegativeMask: element e of the vector's k-th run (16-byte vectors: its half) is 0xFF where bit e of signs[k] is set.
            uint[] signWords = [(uint)random.NextInt64(), (uint)random.NextInt64()];
            foreach (int half in width == 16 ? new[] { 0, 1 } : new[] { 0 })
            {
                byte[] negative;
                fixed (uint* sp = signWords) negative = Bytes(TOps.NegativeMask(sp, half));
                for (int i = 0; i < width; i++)
                {
                    (int run, int element) = width == 16 ? (0, 16 * half + i) : (i / 32, i % 32);
                    Assert.Equal(((signWords[run] >> element) & 1) != 0 ? 0xFF : 0, negative[i]);
                }
            }

            int[] perSubBlock = [random.Next(int.MinValue, int.MaxValue), random.Next(int.MinValue, int.MaxValue)];
            byte[] scales;
            fixed (int* sp = perSubBlock) scales = Bytes(TOps.SubBlockScales(sp));
            for (int k = 0; k < width / 4; k++) Assert.Equal(perSubBlock[4 * k / 32], BitConverter.ToInt32(scales, 4 * k));
            short[] perSixteen = [(short)random.Next(short.MinValue, short.MaxValue), (short)random.Next(), (short)random.Next(), (short)random.Next()];
            fixed (short* sp = perSixteen) scales = Bytes(TOps.SixteenScales(sp));
            for (int k = 0; k < width / 2; k++) Assert.Equal(perSixteen[2 * k / 16], BitConverter.ToInt16(scales, 2 * k));
        }
    }

    private static void CheckDefinitions<TOps, TVector, TLanes>() where TOps : struct, ISimdOps<TVector, TLanes> where TVector : struct where TLanes : struct
    {
        int width = TOps.VectorBytes;
        Assert.Equal(width, Unsafe.SizeOf<TVector>());
        Assert.Equal(32, Unsafe.SizeOf<TLanes>());
        var random = new Random(width);
        for (int iteration = 0; iteration < 300; iteration++)
        {
            byte[] a = RandomBytes(random, width), b = RandomBytes(random, width), c = RandomBytes(random, width);
            TVector va = From<TVector>(a), vb = From<TVector>(b), vc = From<TVector>(c);

            // LoadFromRun: bytes offset.. of a 32-byte run, or the run in both 256-bit halves.
            byte[] run = RandomBytes(random, 64);
            fixed (byte* p = run)
            {
                byte[] loaded = Bytes(TOps.LoadFromRun(p, width == 16 ? 16 : 0));
                for (int i = 0; i < width; i++) Assert.Equal(run[width == 16 ? 16 + i : i % 32], loaded[i]);
            }

            // ShiftPerRun: 32-bit elements of run k by first + k·step, right where positive.
            foreach ((int first, int step) in new[] { (0, 4), (-4, 2), (0, 2), (4, 0), (-2, 0), (2, 0), (-4, 1), (-2, 1), (0, 1), (2, 1), (4, 2), (6, 0), (-1, 0) })
            {
                byte[] shifted = Bytes(TOps.ShiftPerRun(va, first, step));
                for (int i = 0; i < width / 4; i++)
                {
                    uint value = BitConverter.ToUInt32(a, 4 * i);
                    int count = first + (width == 64 ? i / 8 : 0) * step;
                    Assert.Equal(count >= 0 ? value >> count : value << -count, BitConverter.ToUInt32(shifted, 4 * i));
                }
            }

            // ScaledDot: per int32 lane, Σ of its four unsigned × signed products times the lane's (repeated) word.
            byte[] quants = a.Select(x => (byte)(x & 63)).ToArray();
            byte[] scaleWords = new byte[width];
            for (int k = 0; k < width / 4; k++)
            {
                short word = (short)random.Next(-128, 128);
                BitConverter.TryWriteBytes(scaleWords.AsSpan(4 * k), word);
                BitConverter.TryWriteBytes(scaleWords.AsSpan(4 * k + 2), word);
            }
            byte[] dot = Bytes(TOps.ScaledDot(From<TVector>(quants), vb, From<TVector>(scaleWords)));
            for (int k = 0; k < width / 4; k++)
            {
                int sum = 0;
                for (int j = 0; j < 4; j++) sum += quants[4 * k + j] * (sbyte)b[4 * k + j];
                Assert.Equal(sum * BitConverter.ToInt16(scaleWords, 4 * k), BitConverter.ToInt32(dot, 4 * k));
            }

            // RepeatHalf and GroupScales: lane L's words are word (first + 16L) / group of the half's eight.
            for (int half = 0; half < 2; half++)
            {
                TVector repeated = TOps.RepeatHalf(Vector128.Create(b).AsSByte(), half);
                byte[] repeatedWords = Bytes(repeated);
                for (int i = 0; i < width / 2; i++) Assert.Equal((short)(sbyte)b[8 * half + i % 8], BitConverter.ToInt16(repeatedWords, 2 * i));
                foreach ((int element, int group) in new[] { (0, 32), (64, 32), (160, 32), (192, 32), (0, 16), (32, 16), (64, 16) })
                {
                    byte[] scales = Bytes(TOps.GroupScales(repeated, element, group));
                    for (int i = 0; i < width / 2; i++)
                        Assert.Equal((short)(sbyte)b[8 * half + (element + 16 * (i / 8)) / group], BitConverter.ToInt16(scales, 2 * i));
                }
            }

            // AddInt32 and RunLanes: lane k of a run sums elements 4k..4k+3 of each 32-byte run.
            byte[] added = Bytes(TOps.AddInt32(va, vb));
            for (int k = 0; k < width / 4; k++) Assert.Equal(BitConverter.ToInt32(a, 4 * k) + BitConverter.ToInt32(b, 4 * k), BitConverter.ToInt32(added, 4 * k));
            byte[] lanes = Bytes(TOps.RunLanes(va, vc));
            for (int k = 0; k < 8; k++)
            {
                int expected = width switch
                {
                    16 => k < 4 ? BitConverter.ToInt32(a, 4 * k) : BitConverter.ToInt32(c, 4 * (k - 4)),
                    32 => BitConverter.ToInt32(a, 4 * k),
                    _ => BitConverter.ToInt32(a, 4 * k) + BitConverter.ToInt32(a, 32 + 4 * k),
                };
                Assert.Equal(expected, BitConverter.ToInt32(lanes, 4 * k));
            }

            // MultiplyAddBytes, SubtractInt32, ShiftLeftInt32, MultiplyAdd and Sum on the eight lanes.
            byte[] words = RandomBytes(random, 32), other = RandomBytes(random, 32);
            TLanes pairSums;
            fixed (byte* p = words) pairSums = TOps.MultiplyAddBytes((short*)p, Vector128.Create(other, 0).AsSByte());
            byte[] pairBytes = Bytes(pairSums);
            for (int k = 0; k < 8; k++)
            {
                int expected = BitConverter.ToInt16(words, 4 * k) * (sbyte)other[2 * k] + BitConverter.ToInt16(words, 4 * k + 2) * (sbyte)other[2 * k + 1];
                Assert.Equal(expected, BitConverter.ToInt32(pairBytes, 4 * k));
            }
            TLanes left = From<TLanes>(words), right = From<TLanes>(other);
            byte[] difference = Bytes(TOps.SubtractInt32(left, TOps.ShiftLeftInt32(right, 5)));
            for (int k = 0; k < 8; k++)
                Assert.Equal(BitConverter.ToInt32(words, 4 * k) - (BitConverter.ToInt32(other, 4 * k) << 5), BitConverter.ToInt32(difference, 4 * k));
            var integers = new int[8];
            var accumulator = new float[8];
            for (int k = 0; k < 8; k++)
            {
                integers[k] = random.Next(-1 << 20, 1 << 20);
                accumulator[k] = (float)(random.NextDouble() * 200 - 100);
            }
            float scale = (float)random.NextDouble();
            // The 128-bit multiply-add is fused where the CPU has FMA (ARM64, x86 since Haswell); the wider ones always are.
            bool fusedMultiplyAdd = width > 16 || System.Runtime.Intrinsics.X86.Fma.IsSupported || System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported;
            byte[] fused = Bytes(TOps.MultiplyAdd(scale, From<TLanes>(integers), From<TLanes>(accumulator)));
            var result = new float[8];
            for (int k = 0; k < 8; k++)
            {
                result[k] = BitConverter.ToSingle(fused, 4 * k);
                Assert.Equal(fusedMultiplyAdd ? MathF.FusedMultiplyAdd(scale, integers[k], accumulator[k]) : scale * integers[k] + accumulator[k], result[k]);
            }
            Assert.Equal(((result[0] + result[1]) + (result[2] + result[3])) + ((result[4] + result[5]) + (result[6] + result[7])),
                TOps.Sum(From<TLanes>(result)));
        }
    }

    private static byte[] RandomBytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    private static T From<T>(byte[] bytes) where T : struct => Unsafe.ReadUnaligned<T>(ref bytes[0]);

    private static T From<T>(int[] values) where T : struct => Unsafe.ReadUnaligned<T>(ref Unsafe.As<int, byte>(ref values[0]));

    private static T From<T>(float[] values) where T : struct => Unsafe.ReadUnaligned<T>(ref Unsafe.As<float, byte>(ref values[0]));

    private static byte[] Bytes<T>(T value) where T : struct
    {
        var bytes = new byte[Unsafe.SizeOf<T>()];
        Unsafe.WriteUnaligned(ref bytes[0], value);
        return bytes;
    }
}
