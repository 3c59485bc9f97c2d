using System.Runtime.InteropServices;

namespace Suiron.Tests.Kernels;

/// <summary>
/// A <c>struct ggml_tensor *</c> as llama.cpp's eval callback (<c>cb_eval</c>) hands it over: its type, shape, strides and
/// sources read at their offsets in ggml.h's layout (int type at 0, int64 ne[4] at 16, size_t nb[4] at 48, ggml_tensor *
/// src[] at 152), its name, operation and data through ggml's own accessors.
/// </summary>
internal static unsafe class GgmlTensor
{
    private const int ShapeOffset = 16, StridesOffset = 48, SourcesOffset = 152;

    private static readonly delegate* unmanaged<nint, byte*> GetName = (delegate* unmanaged<nint, byte*>)GgmlOracleTests.Export("ggml_get_name");
    private static readonly delegate* unmanaged<nint, byte*> OpDescription = (delegate* unmanaged<nint, byte*>)GgmlOracleTests.Export("ggml_op_desc");
    private static readonly delegate* unmanaged<nint, nint> GetData = (delegate* unmanaged<nint, nint>)GgmlOracleTests.Export("ggml_get_data");

    public static string Name(nint tensor) => Marshal.PtrToStringUTF8((nint)GetName(tensor)) ?? "";

    /// <summary>The operation that produced it, as ggml names it (<c>MUL_MAT</c>, <c>SET_ROWS</c> …).</summary>
    public static string Operation(nint tensor) => Marshal.PtrToStringUTF8((nint)OpDescription(tensor)) ?? "";

    /// <summary>ggml's type number (0 F32, 1 F16, 26 I32 …).</summary>
    public static int Type(nint tensor) => *(int*)tensor;

    public static long* Shape(nint tensor) => (long*)(tensor + ShapeOffset);

    public static nuint* Strides(nint tensor) => (nuint*)(tensor + StridesOffset);

    /// <summary>Source <paramref name="index"/> of the operation (0 is the first operand).</summary>
    public static nint Source(nint tensor, int index) => *(nint*)(tensor + SourcesOffset + index * sizeof(nint));

    public static byte* Data(nint tensor) => (byte*)GetData(tensor);
}
