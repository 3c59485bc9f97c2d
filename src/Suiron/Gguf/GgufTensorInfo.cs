using Suiron.Tensors;

namespace Suiron.Gguf;

/// <summary>A tensor's header entry: name, ggml-order shape, type and offset inside the data section.</summary>
public sealed record GgufTensorInfo(string Name, long[] Shape, TensorType Type, ulong Offset, long ByteSize)
{
    /// <summary>Elements in the tensor: the product of its dimensions.</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }
}
