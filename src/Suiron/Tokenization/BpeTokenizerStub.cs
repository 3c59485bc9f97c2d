// STUB — DELETE AT MERGE. The real BpeTokenizer lives in BpeTokenizer.cs on the tok-bpe branch; this placeholder only
// lets Tokenizer.FromVocabulary compile on the tok-spm branch.
namespace Suiron.Tokenization;

internal sealed class BpeTokenizer : Tokenizer
{
    public BpeTokenizer(Vocabulary vocabulary) : base(vocabulary)
    {
    }

    protected override void EncodeText(string text, bool atStartOrAfterSpecial, List<int> output) =>
        throw new NotImplementedException("BpeTokenizer stub (tok-spm branch); the real one comes from tok-bpe");

    public override byte[] TokenBytes(int id, bool renderSpecial = false) =>
        throw new NotImplementedException("BpeTokenizer stub (tok-spm branch); the real one comes from tok-bpe");
}
