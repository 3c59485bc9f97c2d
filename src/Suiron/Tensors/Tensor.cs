namespace Suiron.Tensors;

/// <summary>
/// A read-only view of a tensor's bytes (usually inside the GGUF memory map, never copied to the managed heap).
/// ggml order: <c>Shape[0]</c> is the innermost (contiguous) dimension, so a 2-D weight of
/// <c>Shape = [cols, rows]</c> is stored row-major with <c>rows</c> rows of <c>cols</c> elements.
/// </summary>
public sealed unsafe class Tensor
{
    /// <summary>A view of <paramref name="data"/> as the tensor <paramref name="name"/> of <paramref name="type"/> and <paramref name="shape"/>.</summary>
    public Tensor(string name, TensorType type, long[] shape, byte* data, long byteLength)
    {
        Name = name;
        Type = type;
        Shape = shape;
        Data = data;
        ByteLength = byteLength;
    }

    /// <summary>The tensor's name.</summary>
    public string Name { get; }
    /// <summary>The element type.</summary>
    public TensorType Type { get; }
    /// <summary>ggml order: innermost dimension first.</summary>
    public long[] Shape { get; }
    /// <summary>The tensor's bytes.</summary>
    public byte* Data { get; }
    /// <summary>Bytes of data.</summary>
    public long ByteLength { get; }

    /// <summary>Elements per row (the innermost dimension).</summary>
    public int Columns => checked((int)Shape[0]);

    /// <summary>Number of rows: the product of all dimensions but the innermost.</summary>
    public long Rows
    {
        get
        {
            long rows = 1;
            for (int i = 1; i < Shape.Length; i++) rows *= Shape[i];
            return rows;
        }
    }

    /// <summary>Elements: the product of the dimensions.</summary>
    public long ElementCount => Columns * Rows;

    /// <summary>Bytes of one row.</summary>
    public int RowByteCount => checked((int)TensorTypes.RowBytes(Type, Shape[0]));

    /// <summary>The bytes of row <paramref name="row"/>.</summary>
    public ReadOnlySpan<byte> Row(long row)
    {
        if ((ulong)row >= (ulong)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        int rb = RowByteCount;
        return new ReadOnlySpan<byte>(Data + row * rb, rb);
    }

    /// <summary>The bytes of rows [first, first+count).</summary>
    public ReadOnlySpan<byte> RowRange(long first, int count)
    {
        int rb = RowByteCount;
        return new ReadOnlySpan<byte>(Data + first * rb, checked(count * rb));
    }

    /// <summary>Name, type and shape, for display.</summary>
    public override string ToString() => $"{Name} {Type} [{string.Join(", ", Shape)}]";
}
