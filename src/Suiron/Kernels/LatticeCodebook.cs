using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Suiron.Tensors;

namespace Suiron.Kernels;

/// <summary>
/// The search structures an i-quant encoder needs over one lattice codebook (<see cref="LatticeGrids"/>), derived from the
/// grid the way ggml's iq2xs_init_impl / iq3xs_init_impl derive theirs, so that every search visits the same candidates
/// in the same order:
/// <list type="bullet">
/// <item>each grid point as its coordinates <c>2l+1</c> (l = the level index 0..3 for the 2-bit grids, 0..7 for the 3-bit ones);</item>
/// <item>a map from a packed vector of levels (2 or 3 bits per coordinate) to the grid point with exactly those levels;</item>
/// <item>for a vector that is not on the grid, its neighbours: the grid points at the <c>nearestDistances</c> smallest squared
/// distances from it, by distance then by grid index.</item>
/// </list>
/// Built once per codebook on first use; read-only and shared by every thread afterwards.
/// </summary>
internal sealed unsafe class LatticeCodebook
{
    /// <summary>Coordinates per grid point: 8 for the IQ2/IQ1 grids, 4 for the IQ3 grids.</summary>
    public int Dimension { get; }
    /// <summary>Bits per coordinate in a packed level vector (the map's key).</summary>
    public int LevelBits { get; }
    /// <summary>Grid points, <see cref="Dimension"/> bytes each, every byte <c>2l+1</c>.</summary>
    public readonly byte* PointsPointer;
    /// <summary>The same coordinates as floats, for the neighbour searches' distance sums.</summary>
    public readonly float* PointValuesPointer;
    /// <summary>
    /// Packed levels → grid index when ≥ 0; otherwise <c>-(offset + 1)</c> into <see cref="NeighboursPointer"/>, where the
    /// count of neighbours is followed by their grid indices. Only keys whose levels the encoders can produce are filled.
    /// </summary>
    public readonly int* MapPointer;
    /// <summary>Neighbour lists, each a count followed by that many grid indices.</summary>
    public readonly ushort* NeighboursPointer;

    // The arrays live on the pinned heap, held here for the life of the process, so the encoders' hot loops read them
    // through the pointers above without pinning or bounds checks.
    private readonly byte[] _points;
    private readonly float[] _pointValues;
    private readonly int[] _map;
    private readonly ushort[] _neighbours;

    private LatticeCodebook(int dimension, int levelBits, byte[] points, int[] map, ushort[] neighbours)
    {
        Dimension = dimension;
        LevelBits = levelBits;
        _points = points;
        _pointValues = GC.AllocateUninitializedArray<float>(points.Length, pinned: true);
        for (int i = 0; i < points.Length; i++) _pointValues[i] = points[i];
        _map = map;
        _neighbours = neighbours;
        PointsPointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(points));
        PointValuesPointer = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_pointValues));
        MapPointer = (int*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(map));
        NeighboursPointer = (ushort*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(neighbours));
    }

    private static readonly Lazy<LatticeCodebook> s_iq2xxs = new(() => FromTwoBitGrid(LatticeGrids.IQ2XXS, TwoBitLevel, nearestDistances: 2));
    private static readonly Lazy<LatticeCodebook> s_iq2xs = new(() => FromTwoBitGrid(LatticeGrids.IQ2XS, TwoBitLevel, nearestDistances: 2));
    // IQ2_S searches only the nearest shell: its 1024-point grid is dense enough that one usually holds a good point.
    private static readonly Lazy<LatticeCodebook> s_iq2s = new(() => FromTwoBitGrid(LatticeGrids.IQ2S, TwoBitLevel, nearestDistances: 1));
    // The IQ1 grid stores −1, 0, 1: levels 0, 1, 2.
    private static readonly Lazy<LatticeCodebook> s_iq1 = new(() => FromTwoBitGrid(LatticeGrids.IQ1S, b => (sbyte)b + 1, nearestDistances: 3));
    private static readonly Lazy<LatticeCodebook> s_iq3xxs = new(() => FromThreeBitGrid(LatticeGrids.IQ3XXS, ThreeBitXxsLevel, nearestDistances: 2));
    private static readonly Lazy<LatticeCodebook> s_iq3s = new(() => FromThreeBitGrid(LatticeGrids.IQ3S, b => (b - 1) / 2, nearestDistances: 3));

    /// <summary>The codebook of a lattice type (IQ1_S and IQ1_M share one).</summary>
    public static LatticeCodebook For(TensorType type) => type switch
    {
        TensorType.IQ2_XXS => s_iq2xxs.Value,
        TensorType.IQ2_XS => s_iq2xs.Value,
        TensorType.IQ2_S => s_iq2s.Value,
        TensorType.IQ1_S or TensorType.IQ1_M => s_iq1.Value,
        TensorType.IQ3_XXS => s_iq3xxs.Value,
        TensorType.IQ3_S => s_iq3s.Value,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "Not a lattice type."),
    };

    // The IQ2 grids store the magnitudes 8, 25, 43, 62 for levels 0..3.
    private static int TwoBitLevel(byte magnitude) => magnitude switch
    {
        0x08 => 0,
        0x19 => 1,
        0x2b => 2,
        0x3e => 3,
        _ => throw new InvalidOperationException($"Unexpected IQ2 grid magnitude {magnitude}."),
    };

    // IQ3_XXS stores the magnitudes 4, 12, 20, 28, 36, 44, 52, 62 for levels 0..7.
    private static int ThreeBitXxsLevel(byte magnitude) => magnitude == 62 ? 7 : (magnitude - 4) / 8;

    private static LatticeCodebook FromTwoBitGrid(ReadOnlySpan<ulong> grid, Func<byte, int> level, int nearestDistances)
    {
        var points = GC.AllocateUninitializedArray<byte>(grid.Length * 8, pinned: true);
        for (int p = 0; p < grid.Length; p++)
            for (int c = 0; c < 8; c++)
                points[8 * p + c] = (byte)(2 * level((byte)(grid[p] >> (8 * c))) + 1);
        return Build(points, dimension: 8, levelBits: 2, nearestDistances);
    }

    private static LatticeCodebook FromThreeBitGrid(ReadOnlySpan<uint> grid, Func<byte, int> level, int nearestDistances)
    {
        var points = GC.AllocateUninitializedArray<byte>(grid.Length * 4, pinned: true);
        for (int p = 0; p < grid.Length; p++)
            for (int c = 0; c < 4; c++)
                points[4 * p + c] = (byte)(2 * level((byte)(grid[p] >> (8 * c))) + 1);
        return Build(points, dimension: 4, levelBits: 3, nearestDistances);
    }

    private static LatticeCodebook Build(byte[] points, int dimension, int levelBits, int nearestDistances)
    {
        int count = points.Length / dimension;
        int levelMask = (1 << levelBits) - 1;
        // The encoders clamp levels to 0..2 (2-bit grids) or 0..7 (3-bit): only such keys are ever looked up.
        int maxLevel = levelBits == 2 ? 2 : 7;
        int mapSize = 1 << (levelBits * dimension);
        var map = GC.AllocateUninitializedArray<int>(mapSize, pinned: true);
        Array.Fill(map, int.MinValue);
        for (int p = 0; p < count; p++)
        {
            int key = 0;
            for (int c = 0; c < dimension; c++) key |= (points[dimension * p + c] - 1) / 2 << (levelBits * c);
            map[key] = p;
        }

        var neighbours = new List<ushort>();
        var distances = new int[count];
        Span<int> position = stackalloc int[dimension];
        Span<int> shells = stackalloc int[nearestDistances];
        for (int key = 0; key < mapSize; key++)
        {
            if (map[key] >= 0) continue;
            bool reachable = true;
            for (int c = 0; c < dimension; c++)
            {
                int l = (key >> (levelBits * c)) & levelMask;
                reachable &= l <= maxLevel;
                position[c] = 2 * l + 1;
            }
            if (!reachable) continue;

            for (int p = 0; p < count; p++)
            {
                int d2 = 0;
                for (int c = 0; c < dimension; c++)
                {
                    int diff = points[dimension * p + c] - position[c];
                    d2 += diff * diff;
                }
                distances[p] = d2;
            }
            // The nearestDistances smallest distinct distances ("shells"), ascending.
            int shellCount = 0;
            int below = -1;
            while (shellCount < nearestDistances)
            {
                int next = int.MaxValue;
                foreach (int d2 in distances) if (d2 > below && d2 < next) next = d2;
                if (next == int.MaxValue) break;
                shells[shellCount++] = next;
                below = next;
            }
            map[key] = -(neighbours.Count + 1);
            int countAt = neighbours.Count;
            neighbours.Add(0);
            for (int s = 0; s < shellCount; s++)
                for (int p = 0; p < count; p++)
                    if (distances[p] == shells[s]) neighbours.Add((ushort)p);
            neighbours[countAt] = (ushort)(neighbours.Count - countAt - 1);
        }
        var pinnedNeighbours = GC.AllocateUninitializedArray<ushort>(neighbours.Count, pinned: true);
        neighbours.CopyTo(pinnedNeighbours);
        return new LatticeCodebook(dimension, levelBits, points, map, pinnedNeighbours);
    }
}
