namespace Suiron.Inference;

/// <summary>
/// The fixed-size memory a sequence keeps in the recurrent layers of a hybrid model (Qwen3-Next, Qwen3.5): per layer
/// the last <c>kernel − 1</c> inputs of the causal convolution and the gated-DeltaNet state matrices, all F32 as in
/// llama.cpp. Unlike keys and values it holds no list of positions: it is the whole past folded into one value, so
/// going back to an earlier position needs a <em>snapshot</em> taken there. <see cref="KvCache"/> keeps up to
/// <see cref="MaxSnapshots"/> of them (the prefix cache's reuse points) and restores one on
/// <see cref="KvCache.Truncate"/>.
/// </summary>
internal sealed class RecurrentState
{
    private readonly float[][] _layers; // per recurrent layer: convolution rows, then the state matrices
    private readonly List<(int Position, float[] Values)> _snapshots = [];
    private readonly Stack<float[]> _spare = new();

    public RecurrentState(int layers, int convolutionLength, int matrixLength, int maxSnapshots)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSnapshots);
        LayerCount = layers;
        ConvolutionLength = convolutionLength;
        MatrixLength = matrixLength;
        MaxSnapshots = maxSnapshots;
        _layers = new float[layers][];
        for (int i = 0; i < layers; i++) _layers[i] = new float[convolutionLength + matrixLength];
    }

    public int LayerCount { get; }
    /// <summary>Floats of convolution history per layer: (kernel − 1) × channels, oldest row first.</summary>
    public int ConvolutionLength { get; }
    /// <summary>Floats of state matrices per layer: value heads × head length × head length.</summary>
    public int MatrixLength { get; }
    /// <summary>Snapshots kept at most; the oldest taken goes first.</summary>
    public int MaxSnapshots { get; }

    /// <summary>Bytes of one sequence's state over all layers (and of each snapshot).</summary>
    public long Bytes => (long)LayerCount * (ConvolutionLength + MatrixLength) * sizeof(float);

    public Span<float> Convolution(int layer) => _layers[layer].AsSpan(0, ConvolutionLength);
    public Span<float> Matrices(int layer) => _layers[layer].AsSpan(ConvolutionLength, MatrixLength);
    internal float[] LayerArray(int layer) => _layers[layer];

    /// <summary>Positions at which a snapshot is held, oldest taken first.</summary>
    public IEnumerable<int> SnapshotPositions => _snapshots.Select(s => s.Position);

    /// <summary>The empty past (position 0).</summary>
    public void Reset()
    {
        foreach (float[] layer in _layers) Array.Clear(layer);
    }

    /// <summary>Remembers the current state as the state at <paramref name="position"/>.</summary>
    public void Save(int position)
    {
        if (MaxSnapshots == 0) return;
        int existing = _snapshots.FindIndex(s => s.Position == position);
        float[] values;
        if (existing >= 0)
        {
            values = _snapshots[existing].Values;
            _snapshots.RemoveAt(existing);
        }
        else
        {
            if (_snapshots.Count == MaxSnapshots)
            {
                _spare.Push(_snapshots[0].Values);
                _snapshots.RemoveAt(0);
            }
            values = _spare.Count > 0 ? _spare.Pop() : new float[LayerCount * (ConvolutionLength + MatrixLength)];
        }
        int width = ConvolutionLength + MatrixLength;
        for (int i = 0; i < LayerCount; i++) _layers[i].CopyTo(values, i * width);
        _snapshots.Add((position, values));
    }

    /// <summary>The largest snapshot position ≤ <paramref name="position"/>, or 0 (the empty state) when there is none.</summary>
    public int LatestSnapshotAtOrBefore(int position)
    {
        int best = 0;
        foreach (var (at, _) in _snapshots)
            if (at <= position && at > best) best = at;
        return best;
    }

    /// <summary>
    /// Restores the state at <paramref name="position"/> (a snapshot's, or the empty state at 0) and forgets the snapshots
    /// past it, which belong to the continuation being dropped. False when no snapshot is held there.
    /// </summary>
    public bool Restore(int position)
    {
        float[]? values = null;
        if (position > 0)
        {
            foreach (var (at, v) in _snapshots)
                if (at == position) values = v;
            if (values is null) return false;
        }
        if (values is null)
        {
            Reset();
        }
        else
        {
            int width = ConvolutionLength + MatrixLength;
            for (int i = 0; i < LayerCount; i++) values.AsSpan(i * width, width).CopyTo(_layers[i]);
        }
        for (int i = _snapshots.Count - 1; i >= 0; i--)
            if (_snapshots[i].Position > position)
            {
                _spare.Push(_snapshots[i].Values);
                _snapshots.RemoveAt(i);
            }
        return true;
    }

    private float[]? _draftBase;

    /// <summary>
    /// Keeps the current state aside (not among the prefix-reuse snapshots) before a speculative pass, so that a rejected
    /// draft can be undone by <see cref="RestoreDraftBase"/> and the accepted tokens evaluated again.
    /// </summary>
    public void SaveDraftBase()
    {
        int width = ConvolutionLength + MatrixLength;
        _draftBase ??= new float[LayerCount * width];
        for (int i = 0; i < LayerCount; i++) _layers[i].CopyTo(_draftBase, i * width);
    }

    /// <summary>Back to the state <see cref="SaveDraftBase"/> kept.</summary>
    public void RestoreDraftBase()
    {
        int width = ConvolutionLength + MatrixLength;
        for (int i = 0; i < LayerCount; i++) _draftBase.AsSpan(i * width, width).CopyTo(_layers[i]);
    }

    /// <summary>Forgets every snapshot and the state itself.</summary>
    public void Clear()
    {
        Reset();
        foreach (var (_, values) in _snapshots) _spare.Push(values);
        _snapshots.Clear();
    }
}
