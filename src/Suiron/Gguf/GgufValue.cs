using System.Globalization;

namespace Suiron.Gguf;

/// <summary>
/// One metadata value. Scalars are boxed .NET primitives; arrays of scalars are typed .NET arrays
/// (<c>float[]</c>, <c>int[]</c>, <c>string[]</c> …); arrays of arrays are <c>GgufValue[]</c>.
/// </summary>
public sealed class GgufValue
{
    /// <summary>A value of <paramref name="type"/>; for an array, <paramref name="elementType"/> names its elements' type.</summary>
    public GgufValue(GgufValueType type, object value, GgufValueType elementType = GgufValueType.UInt8)
    {
        Type = type;
        Value = value;
        ElementType = elementType;
    }

    /// <summary>The value's GGUF type.</summary>
    public GgufValueType Type { get; }
    /// <summary>For arrays: the type of the elements.</summary>
    public GgufValueType ElementType { get; }
    /// <summary>The value: a number, bool or string, or an array of them.</summary>
    public object Value { get; }

    /// <summary>Whether the value is an array.</summary>
    public bool IsArray => Type == GgufValueType.Array;

    /// <summary>Elements of the array; 0 for a scalar.</summary>
    public int ArrayLength => Value is Array a ? a.Length : throw new InvalidOperationException("Not an array.");

    /// <summary>The string; an exception for another type.</summary>
    public string AsString() => Value as string ?? throw new InvalidCastException($"Metadata value is {Type}, not String.");

    /// <summary>Any integer (or bool) scalar as a long.</summary>
    public long AsInt64() => Value switch
    {
        byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v,
        ulong v => v <= long.MaxValue ? (long)v : throw new OverflowException("UInt64 metadata value exceeds Int64."),
        long v => v, bool v => v ? 1 : 0,
        _ => throw new InvalidCastException($"Metadata value is {Type}, not an integer."),
    };

    /// <summary>Any numeric scalar as a double.</summary>
    public double AsDouble() => Value switch
    {
        float v => v, double v => v,
        _ => AsInt64(),
    };

    /// <summary>The boolean; an exception for another type.</summary>
    public bool AsBool() => Value switch
    {
        bool v => v,
        _ => AsInt64() != 0,
    };

    /// <summary>The array's elements as <typeparamref name="T"/>; an exception for a scalar or another element type.</summary>
    public T[] AsArray<T>() => Value as T[] ?? throw new InvalidCastException($"Metadata value is {(IsArray ? ElementType + "[]" : Type.ToString())}, not {typeof(T).Name}[].");

    /// <summary>An integer array of any element width as int[].</summary>
    public int[] AsInt32Array() => Value switch
    {
        int[] a => a,
        uint[] a => Array.ConvertAll(a, v => checked((int)v)),
        long[] a => Array.ConvertAll(a, v => checked((int)v)),
        ulong[] a => Array.ConvertAll(a, v => checked((int)v)),
        short[] a => Array.ConvertAll(a, v => (int)v),
        ushort[] a => Array.ConvertAll(a, v => (int)v),
        sbyte[] a => Array.ConvertAll(a, v => (int)v),
        byte[] a => Array.ConvertAll(a, v => (int)v),
        bool[] a => Array.ConvertAll(a, v => v ? 1 : 0),
        _ => throw new InvalidCastException($"Metadata value is {Type}, not an integer array."),
    };

    /// <summary>The array's numbers as floats (any numeric element type).</summary>
    public float[] AsFloatArray() => Value switch
    {
        float[] a => a,
        double[] a => Array.ConvertAll(a, v => (float)v),
        _ => Array.ConvertAll(AsInt32Array(), v => (float)v),
    };

    /// <summary>The value as text (arrays abbreviated), for display.</summary>
    public override string ToString()
    {
        if (Value is string s) return s;
        if (Value is Array a) return $"[{ElementType} x {a.Length}]";
        return Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "";
    }
}
