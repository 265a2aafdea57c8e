using System.Text;
using CsCheck;
using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Properties;

/// <summary>Reading <c>.mcp-codex.json</c>, whatever the repository holds: refused with InvalidInputException, never anything else.</summary>
public sealed class ConfigLoaderProperties
{
    private static readonly Gen<string> Scalar = Gen.OneOf(
        "null", "true", "false", "0", "-1", "1", "3", "8", "9", "1800", "1.5", "1e999", "-0", "2147483648", "99999999999999999999",
        "\"\"", "\" \"", "\"npm test\"", "\"src/**\"", "\"../x\"", "\"/abs\"", "\"C:\\\\x\"", "\"deny\"", "\"allow\"", "\"normal\"",
        "\"workspace-write\"", "\"name:tag\"", "\"0.169.0\"", "\"k=v\"", "\"HOME\"", "\"FOO\"", "\"http://x\"", "\"host:443\"",
        "\"\\u0000\"", "\"\\n\"", "\"\\ud83d\\ude00\"", "\"\u00e9\"");

    // No "\ud800"-style escape anywhere: GetString throws InvalidOperationException on one, which the loader
    // does not turn into a refusal yet; Lone_surrogate_escapes_are_refused_as_invalid_input holds that case.

    /// <summary>Any JSON value, nested a few levels, built from values the fields accept and values they refuse.</summary>
    private static readonly Gen<string> Value = Gen.Recursive<string>((depth, value) => depth >= 3
        ? Scalar
        : Gen.OneOf<string>(
            Scalar,
            value.Array[0, 4].Select(items => $"[{string.Join(',', items)}]"),
            Gen.Select(Gen.OneOf("a", "type", "max_files", "max_log_bytes", "base_image", "setup", "node"), value).Array[0, 3].Select(ps => $"{{{string.Join(',', ps.Select(p => $"\"{p.Item1}\":{p.Item2}"))}}}")));

    private static readonly Gen<string> FieldName = Gen.OneOf<string>(Gen.OneOf(ConfigLoader.KnownFields), Gen.OneOf("x", "", "allowed_commands\\u0000", "\\u0061llowed_commands"));

    /// <summary>A JSON object of known and unknown fields holding arbitrary values.</summary>
    private static readonly Gen<string> ConfigObject = Gen.Select(FieldName, Value).Array[0, 6]
        .Select(fields => $"{{ {string.Join(", ", fields.Select(f => $"\"{f.Item1}\": {f.Item2}"))} }}");

    private static readonly Gen<string> Token = Gen.OneOf("{", "}", "[", "]", ":", ",", "\"", "//", "/*", "*/", "\n", "\"default_concurrency\"", "3", "\"x\"", "null", "\\u");

    /// <summary>Text as a file holds it once read: decoded from UTF-8, so never a raw lone surrogate.</summary>
    private static readonly Gen<string> Text = Gen.OneOf<string>(Gen.String, Token.Array[0, 40].Select(t => string.Concat(t)), ConfigObject)
        .Select(text => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)));

    private static void ParsesOrRefuses(string json)
    {
        try
        {
            ConfigLoader.Parse(json);
        }
        catch (InvalidInputException)
        {
            // The one refusal the loader documents; anything else escapes and fails the property.
        }
    }

    [Fact]
    public void Any_text_is_parsed_or_refused_as_invalid_input()
    {
        Text.Sample(ParsesOrRefuses, iter: 2000);
    }

    [Fact]
    public void Any_object_of_fields_is_parsed_or_refused_as_invalid_input()
    {
        ConfigObject.Sample(ParsesOrRefuses, iter: 2000);
    }

    [Fact]
    public void Json_nested_a_hundred_thousand_deep_is_refused_as_invalid_input()
    {
        Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse($"{{\"allowed_commands\": {new string('[', 100_000)}}}"));
    }

    [Theory]
    [InlineData("""{ "\ud800": 1 }""")]
    [InlineData("""{ "codex_command": "\ud800" }""")]
    [InlineData("""{ "allowed_commands": ["npm \udc00"] }""")]
    public void Lone_surrogate_escapes_are_refused_as_invalid_input(string json)
    {
        Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse(json));
    }
}
