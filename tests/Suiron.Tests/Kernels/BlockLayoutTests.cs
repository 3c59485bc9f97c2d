using Suiron.Tensors;
using Xunit;

namespace Suiron.Tests.Kernels;

public unsafe class BlockLayoutTests
{
    [Fact] public void Q4_0() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q4_0), sizeof(BlockQ4_0));
    [Fact] public void Q4_1() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q4_1), sizeof(BlockQ4_1));
    [Fact] public void Q5_0() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q5_0), sizeof(BlockQ5_0));
    [Fact] public void Q5_1() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q5_1), sizeof(BlockQ5_1));
    [Fact] public void Q8_0() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q8_0), sizeof(BlockQ8_0));
    [Fact] public void Q8_1() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q8_1), sizeof(BlockQ8_1));
    [Fact] public void Q2K() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q2_K), sizeof(BlockQ2K));
    [Fact] public void Q3K() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q3_K), sizeof(BlockQ3K));
    [Fact] public void Q4K() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q4_K), sizeof(BlockQ4K));
    [Fact] public void Q5K() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q5_K), sizeof(BlockQ5K));
    [Fact] public void Q6K() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q6_K), sizeof(BlockQ6K));
    [Fact] public void Q8K() => Assert.Equal(TensorTypes.BlockBytes(TensorType.Q8_K), sizeof(BlockQ8K));
}
