using System.Text;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Tests.Containment;

/// <summary>
/// The egress proxy's secrets travel on its standard input (issue 21, breach 1): <c>name=value</c> lines and a
/// closing dot, never in the container's environment; a value that could break out of an nginx header is refused.
/// </summary>
public sealed class ProxySecretsTests
{
    [Fact]
    public void The_key_and_the_chatgpt_account_id_are_lines_ended_by_a_dot()
    {
        var egress = new EgressSpec("proxy", [], new ModelRoute("https://chatgpt.com/backend-api", "eyJhbGciOi.payload.sig-_") { ChatGpt = new ChatGptRoute("0c2b7a3e-1111-4a2b-9c3d-000000000000", false) });

        var input = Encoding.UTF8.GetString(ProxyProtocol.Secrets(egress));

        Assert.Equal("model_key=eyJhbGciOi.payload.sig-_\nchatgpt_account_id=0c2b7a3e-1111-4a2b-9c3d-000000000000\n.\n", input);
    }

    [Fact]
    public void Without_a_credential_only_the_end_is_sent()
    {
        Assert.Equal(".\n", Encoding.UTF8.GetString(ProxyProtocol.Secrets(new EgressSpec("proxy", [], new ModelRoute("https://api.openai.com/v1", null)))));
    }

    [Theory]
    [InlineData("sk-abc\"; more_set_headers X: y")]
    [InlineData("sk-$http_cookie")]
    [InlineData("sk-line\nbreak")]
    [InlineData("sk-with space")]
    public void A_key_that_could_leave_its_header_is_refused_without_being_shown(string key)
    {
        var refused = Assert.Throws<InvalidOperationException>(() => ProxyProtocol.Secrets(new EgressSpec("proxy", [], new ModelRoute("https://api.openai.com/v1", key))));

        Assert.Contains("cannot carry in a header", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key, refused.Message, StringComparison.Ordinal);
    }
}
