using System.Text;
using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>A passed secret carried out encoded is still masked, and found, so the result can be flagged.</summary>
public sealed class RedactorEncodingTests
{
    private const string Secret = "s3cr3t-value-0123456789";
    private readonly Redactor _redactor = new([KeyValuePair.Create("MY_TOKEN", Secret)]);

    public static TheoryData<string, string> Encoded => new()
    {
        { Convert.ToBase64String(Encoding.UTF8.GetBytes(Secret)), "base64" },
        { Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Secret)), "hex" },
        { Convert.ToHexString(Encoding.UTF8.GetBytes(Secret)), "hex" },
        { new string(Secret.Reverse().ToArray()), "reversed" },
    };

    [Theory]
    [MemberData(nameof(Encoded))]
    public void An_encoded_secret_is_found_with_its_encoding(string encoded, string encoding)
    {
        Assert.Equal($"MY_TOKEN ({encoding})", _redactor.FindEncodedSecret($"output: {encoded}\n"));
    }

    [Theory]
    [MemberData(nameof(Encoded))]
    public void An_encoded_secret_is_masked(string encoded, string encoding)
    {
        Assert.DoesNotContain(encoded, _redactor.Redact($"x {encoded} y"), StringComparison.Ordinal);
        Assert.NotEmpty(encoding);
    }

    [Fact]
    public void An_encoded_secret_in_a_patch_is_a_known_secret()
    {
        Assert.NotNull(_redactor.FindKnownSecret("+" + Convert.ToHexStringLower(Encoding.UTF8.GetBytes(Secret))));
    }

    [Fact]
    public void Text_without_the_secret_is_not_flagged()
    {
        Assert.Null(_redactor.FindEncodedSecret("nothing to see"));
    }
}
