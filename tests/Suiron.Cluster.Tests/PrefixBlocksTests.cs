namespace Suiron.Cluster.Tests;

public sealed class PrefixBlocksTests
{
    private static int[] Sequence(int length, int seed) => Enumerable.Range(0, length).Select(i => (i * 7919 + seed * 104729) % 32000).ToArray();

    [Fact]
    public void Prompts_share_hashes_exactly_as_far_as_their_blocks_agree()
    {
        int[] a = Sequence(100, 1);
        int[] b = (int[])a.Clone();
        b[40] = (b[40] + 1) % 32000; // differs inside the third block (tokens 32..47)
        var ha = PrefixBlocks.Hashes(a);
        var hb = PrefixBlocks.Hashes(b);
        Assert.Equal(100 / PrefixBlocks.BlockTokens, ha.Length); // the partial block at the end is not named
        Assert.Equal(ha[..2], hb[..2]);
        for (int i = 2; i < ha.Length; i++) Assert.NotEqual(ha[i], hb[i]); // the chain carries the difference on
    }

    [Fact]
    public void The_same_block_after_a_different_prefix_has_another_name()
    {
        int[] block = Sequence(PrefixBlocks.BlockTokens, 3);
        int[] first = [.. Sequence(PrefixBlocks.BlockTokens, 4), .. block];
        int[] second = [.. Sequence(PrefixBlocks.BlockTokens, 5), .. block];
        Assert.NotEqual(PrefixBlocks.Hashes(first)[1], PrefixBlocks.Hashes(second)[1]);
        Assert.Empty(PrefixBlocks.Hashes(block.AsSpan(0, PrefixBlocks.BlockTokens - 1)));
    }

    [Theory]
    [InlineData("redis://127.0.0.1:6390", "127.0.0.1:6390")]
    [InlineData("redis://cache.lan", "cache.lan:6379")]
    [InlineData("10.0.0.5:7000", "10.0.0.5:7000")]
    public void Redis_addresses_parse(string url, string endpoint) => Assert.Equal(endpoint, ClusterSettings.ParseRedis(url));

    [Theory]
    [InlineData("redis://")]
    [InlineData("redis://host:0")]
    [InlineData("redis://host:99999")]
    [InlineData("redis://user@host:6379")]
    [InlineData("redis://host:6379/2")]
    public void Bad_redis_addresses_are_refused(string url) => Assert.Throws<ArgumentException>(() => ClusterSettings.ParseRedis(url));
}
