using System.Text;
using CsCheck;
using SandboxRunner.Codex;

namespace SandboxRunner.Tests.Properties;

/// <summary>Folding the agent's JSONL stdout, whatever the agent makes it print.</summary>
public sealed class CodexTranscriptProperties
{
    /// <summary>Pieces of JSON and of Codex's events, so random lines are mostly almost-events.</summary>
    private static readonly Gen<string> Token = Gen.OneOf(
        "{", "}", "[", "]", ":", ",", "\"", "\"type\"", "\"item.completed\"", "\"turn.completed\"", "\"turn.failed\"", "\"error\"",
        "\"thread.started\"", "\"item\"", "\"command_execution\"", "\"file_change\"", "\"changes\"", "\"usage\"", "\"input_tokens\"",
        "\"exit_code\"", "\"command\"", "\"aggregated_output\"", "\"message\"", "\"\\ud800\"", "\"\\u0000\"", "\"\\\\\"", "1e999",
        "-0", "99999999999999999999", "2147483648", "null", "true", "false", " ", "\t", "\u00e9", "\ud83d\ude00");

    private static readonly Gen<string> Jsonish = Token.Array[0, 48].Select(tokens => string.Concat(tokens));

    /// <summary>A well-formed event whose fields hold arbitrary JSON-ish values.</summary>
    private static readonly Gen<string> Event = Gen.Select(
        Gen.OneOf("item.completed", "turn.completed", "turn.failed", "error", "thread.started"),
        Gen.OneOf("command_execution", "file_change", "agent_message", "error"),
        Jsonish,
        (type, item, value) => $$"""{"type":"{{type}}","item":{"type":"{{item}}","command":{{value}},"changes":{{value}},"exit_code":{{value}}},"usage":{{value}},"error":{{value}}}""");

    /// <summary>
    /// Lines as the runner gets them: decoded from the container's bytes as UTF-8, which never yields a lone
    /// surrogate (a raw one makes JsonDocument.Parse throw ArgumentException, which Accept does not catch).
    /// </summary>
    private static readonly Gen<string> Line = Gen.OneOf<byte[]>(Gen.Byte.Array[0, 200], Gen.String.Select(s => Encoding.UTF8.GetBytes(s)),
            Jsonish.Select(s => Encoding.UTF8.GetBytes(s)), Event.Select(s => Encoding.UTF8.GetBytes(s)))
        .Select(bytes => Encoding.UTF8.GetString(bytes));

    private static string Print(string[] lines) => string.Join('\n', lines.Select(l => l.Length <= 200 ? l : $"{l[..200]}… ({l.Length} chars)"));

    [Fact]
    public void No_line_makes_the_transcript_throw()
    {
        Line.Array[0, 8].Sample(lines =>
        {
            var transcript = new CodexTranscript();
            foreach (var line in lines)
            {
                transcript.Accept(line);
            }

            Assert.True(transcript.EventCount + transcript.UnparsedLines <= lines.Length);
        }, iter: 2000, print: Print);
    }

    [Fact]
    public void Deeply_nested_json_of_any_shape_is_an_unparsed_line()
    {
        Gen.Select(Gen.OneOf("[", "{\"a\":", "{\"type\":\"item.completed\",\"item\":", "[{\"x\":"), Gen.Int[65, 200_000]).Sample((open, depth) =>
        {
            var transcript = new CodexTranscript();

            transcript.Accept(string.Concat(Enumerable.Repeat(open, depth)));

            Assert.Equal(1, transcript.UnparsedLines);
        }, iter: 20, print: t => $"{t.Item1} x {t.Item2}");
    }

    [Theory]
    [InlineData("[", "")]
    [InlineData("[", "]")]
    [InlineData("{\"a\":", "}")]
    public void Json_nested_a_hundred_thousand_deep_is_an_unparsed_line(string open, string close)
    {
        var transcript = new CodexTranscript();

        // System.Text.Json stops at depth 64 with a JsonException, which Accept counts instead of throwing.
        transcript.Accept(string.Concat(Enumerable.Repeat(open, 100_000)) + string.Concat(Enumerable.Repeat(close, 100_000)));

        Assert.Equal(1, transcript.UnparsedLines);
        Assert.Equal(0, transcript.EventCount);
    }
}
