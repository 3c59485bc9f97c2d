using System.Reflection;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Suiron.Tests.Tokenization;

/// <summary>
/// llama.cpp itself (through LLamaSharp) as the truth for tokenization: llama_tokenize, llama_token_to_piece,
/// llama_detokenize and the vocabulary's attributes and end-of-generation set, on the same GGUF file.
/// LLamaSharp keeps detokenize and the attribute queries internal, so those are reached by reflection.
/// </summary>
internal sealed unsafe class LlamaCppOracle : IDisposable
{
    private static readonly Dictionary<string, LlamaCppOracle> Cache = new();
    private static readonly object CacheLock = new();

    private readonly LLamaWeights _weights;
    private readonly object _vocabPointer; // boxed LLamaVocabNative*
    private readonly Type _vocabPointerType;

    private static readonly MethodInfo DetokenizeMethod = typeof(NativeApi).GetMethod("llama_detokenize", BindingFlags.NonPublic | BindingFlags.Static)
        ?? throw new MissingMethodException("NativeApi.llama_detokenize");
    private static readonly Type VocabNative = typeof(NativeApi).Assembly.GetType("LLama.Native.LLamaVocabNative")
        ?? throw new TypeLoadException("LLama.Native.LLamaVocabNative");
    private static readonly MethodInfo IsEog = VocabNative.GetMethod("llama_vocab_is_eog", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static)
        ?? throw new MissingMethodException("llama_vocab_is_eog");
    private static readonly MethodInfo GetAttr = VocabNative.GetMethod("llama_vocab_get_attr", BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.Static)
        ?? throw new MissingMethodException("llama_vocab_get_attr");

    private LlamaCppOracle(string path, bool vocabOnly)
    {
        var parameters = new ModelParams(path) { ContextSize = 256, GpuLayerCount = 0, VocabOnly = vocabOnly };
        _weights = LLamaWeights.LoadFromFile(parameters);
        object vocab = _weights.NativeHandle.Vocab;
        var property = vocab.GetType().GetProperty("VocabNative", BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new MissingMemberException("Vocabulary.VocabNative");
        _vocabPointer = property.GetValue(vocab)!;
        _vocabPointerType = property.PropertyType;
    }

    /// <summary>One shared instance per file (loading is the slow part).</summary>
    public static LlamaCppOracle For(string path, bool vocabOnly = true)
    {
        lock (CacheLock)
        {
            if (!Cache.TryGetValue(path, out var oracle)) Cache[path] = oracle = new LlamaCppOracle(path, vocabOnly);
            return oracle;
        }
    }

    public int Count => _weights.NativeHandle.Vocab.Count;

    public int[] Tokenize(string text, bool addSpecial, bool parseSpecial)
    {
        lock (this) return Array.ConvertAll(_weights.NativeHandle.Tokenize(text, addSpecial, parseSpecial, Encoding.UTF8), t => (int)t);
    }

    public byte[] TokenToPiece(int id, bool special, int lstrip = 0)
    {
        lock (this)
        {
            var buffer = new byte[256];
            uint n = _weights.NativeHandle.TokenToSpan(id, buffer, lstrip, special);
            if (n > buffer.Length)
            {
                buffer = new byte[n];
                n = _weights.NativeHandle.TokenToSpan(id, buffer, lstrip, special);
            }
            return buffer[..(int)n];
        }
    }

    public byte[] DetokenizeBytes(int[] ids, bool removeSpecial, bool unparseSpecial)
    {
        lock (this)
        {
            var tokens = Array.ConvertAll(ids, id => (LLamaToken)id);
            var buffer = new byte[ids.Length * 64 + 64];
            fixed (LLamaToken* t = tokens)
            fixed (byte* b = buffer)
            {
                int n = (int)DetokenizeMethod.Invoke(null,
                    [_vocabPointer, Pointer.Box(t, typeof(LLamaToken*)), ids.Length, Pointer.Box(b, typeof(byte*)), buffer.Length, removeSpecial, unparseSpecial])!;
                if (n < 0) throw new InvalidOperationException($"llama_detokenize needs {-n} bytes");
                return buffer[..n];
            }
        }
    }

    public string Detokenize(int[] ids, bool removeSpecial, bool unparseSpecial) =>
        Encoding.UTF8.GetString(DetokenizeBytes(ids, removeSpecial, unparseSpecial));

    public bool IsEndOfGeneration(int id)
    {
        lock (this) return (bool)IsEog.Invoke(null, [_vocabPointer, (LLamaToken)id])!;
    }

    public int Attributes(int id)
    {
        lock (this) return Convert.ToInt32(GetAttr.Invoke(null, [_vocabPointer, (LLamaToken)id])!);
    }

    public void Dispose() => _weights.Dispose();
}
