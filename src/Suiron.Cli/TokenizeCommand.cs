using System.CommandLine;
using System.Text;
using Suiron.Gguf;
using Suiron.Tokenization;

namespace Suiron.Cli;

/// <summary>
/// <c>suiron tokenize</c>: print the tokens of a text as llama.cpp's llama-tokenize does: BOS added where the model asks
/// for it (<c>--no-bos</c> to leave it out), special tokens parsed, escapes such as <c>\n</c> processed, and each piece
/// written as its raw bytes (a byte-level BPE piece that is part of a character is not valid UTF-8 on its own).
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<FileInfo>("--model", "-m") { Description = "GGUF model (or vocab-only) file", Required = true };
        var text = new Option<string>("--prompt", "-p", "--text") { Description = "Text to tokenize" };
        var file = new Option<FileInfo>("--file", "-f") { Description = "Read the text from this file (UTF-8)" };
        var stdin = new Option<bool>("--stdin") { Description = "Read the text from standard input" };
        var ids = new Option<bool>("--ids") { Description = "Print only the ids, as a list: [1, 2, 3]" };
        var noBos = new Option<bool>("--no-bos") { Description = "Do not add BOS, even where the model asks for it" };
        var bos = new Option<bool>("--bos") { Description = "Add BOS/EOS as the model asks (the default)", Hidden = true };
        var noEscape = new Option<bool>("--no-escape") { Description = "Take \\n, \\t, \\xHH … in the text literally" };
        var noSpecial = new Option<bool>("--no-parse-special") { Description = "Treat special-token text as plain text" };
        var showCount = new Option<bool>("--show-count") { Description = "Print the number of tokens at the end" };
        var command = new Command("tokenize", "Print the tokens of a text (as llama-tokenize does)") { model, text, file, stdin, ids, noBos, bos, noEscape, noSpecial, showCount };
        command.SetAction(result => CliErrors.Guard(() =>
        {
            string? input = result.GetValue(text);
            FileInfo? inputFile = result.GetValue(file);
            bool fromStdin = result.GetValue(stdin);
            if ((input is not null ? 1 : 0) + (inputFile is not null ? 1 : 0) + (fromStdin ? 1 : 0) != 1)
                throw new UsageException("Give exactly one of --prompt, --file or --stdin.");
            if (result.GetValue(noBos) && result.GetValue(bos)) throw new UsageException("--bos and --no-bos contradict each other.");
            if (inputFile is not null)
            {
                if (!inputFile.Exists) throw new FileNotFoundException($"Input file not found: {inputFile.FullName}");
                input = File.ReadAllText(inputFile.FullName, Encoding.UTF8);
            }
            else if (fromStdin)
            {
                using var reader = new StreamReader(Console.OpenStandardInput(), new UTF8Encoding(false));
                input = reader.ReadToEnd();
            }
            if (!result.GetValue(noEscape)) input = ProcessEscapes(input!);

            using var gguf = GgufFile.Open(result.GetValue(model)!.FullName);
            var tokenizer = Tokenizer.FromGguf(gguf);
            int[] tokens = tokenizer.Encode(input!, addSpecial: !result.GetValue(noBos), parseSpecial: !result.GetValue(noSpecial));
            using var stdout = new BufferedStream(Console.OpenStandardOutput());
            void Write(string s) => stdout.Write(Encoding.UTF8.GetBytes(s));
            if (result.GetValue(ids))
            {
                Write("[" + string.Join(", ", tokens) + "]\n");
            }
            else
            {
                foreach (int id in tokens)
                {
                    Write($"{id,6} -> '");
                    stdout.Write(tokenizer.TokenBytes(id, renderSpecial: true));
                    Write("'\n");
                }
            }
            if (result.GetValue(showCount)) Write($"Total number of tokens: {tokens.Length}\n");
            return CliErrors.Ok;
        }));
        return command;
    }

    /// <summary>
    /// The escapes llama.cpp's tools accept in a prompt: \n \r \t \' \" \\ and \xHH (one byte; bytes that form no valid
    /// UTF-8 become U+FFFD). An unknown escape is kept as written.
    /// </summary>
    internal static string ProcessEscapes(string text)
    {
        if (!text.Contains('\\')) return text;
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var bytes = new List<byte>(utf8.Length);
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] != (byte)'\\' || i + 1 >= utf8.Length)
            {
                bytes.Add(utf8[i]);
                continue;
            }
            byte next = utf8[i + 1];
            byte? plain = next switch
            {
                (byte)'n' => (byte)'\n', (byte)'r' => (byte)'\r', (byte)'t' => (byte)'\t',
                (byte)'\'' => (byte)'\'', (byte)'"' => (byte)'"', (byte)'\\' => (byte)'\\',
                _ => null,
            };
            if (plain is { } p)
            {
                bytes.Add(p);
                i++;
            }
            else if (next == (byte)'x' && i + 3 < utf8.Length && IsHex(utf8[i + 2]) && IsHex(utf8[i + 3]))
            {
                bytes.Add(Convert.ToByte(Encoding.ASCII.GetString(utf8, i + 2, 2), 16));
                i += 3;
            }
            else
            {
                bytes.Add(utf8[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
}
