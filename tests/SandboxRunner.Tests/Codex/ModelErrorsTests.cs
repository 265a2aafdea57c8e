using SandboxRunner.Codex;

namespace SandboxRunner.Tests.Codex;

public sealed class ModelErrorsTests
{
    /// <summary>What Codex 0.169 printed when the proxy could not reach api.openai.com (a first run on a machine with no way out).</summary>
    private const string ProxyGatewayError =
        "unexpected status 502 Bad Gateway: <html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
        + "<hr><center>nginx/1.22.1</center>\r\n</body>\r\n</html>, url: http://sandbox-proxy:8080/responses";

    [Fact]
    public void An_html_error_page_in_a_message_is_replaced_by_its_title()
    {
        Assert.Equal("unexpected status 502 Bad Gateway: [502 Bad Gateway], url: http://sandbox-proxy:8080/responses", ModelErrors.Condense(ProxyGatewayError));
    }

    [Theory]
    [InlineData("quota exceeded")]
    [InlineData("a < b and <b>bold</b>")]
    public void A_message_without_an_html_page_is_unchanged(string message)
    {
        Assert.Equal(message, ModelErrors.Condense(message));
    }

    [Fact]
    public void An_html_page_that_never_ends_is_cut_at_the_message_end()
    {
        Assert.Equal("status 500: [HTML page]", ModelErrors.Condense("status 500: <HTML><body>no title"));
    }

    [Fact]
    public void A_gateway_error_from_the_runs_proxy_means_the_model_api_was_out_of_reach()
    {
        Assert.True(ModelErrors.ProxyCouldNotReachModel(ModelErrors.Condense(ProxyGatewayError)));
        Assert.True(ModelErrors.ProxyCouldNotReachModel("unexpected status 504 Gateway Time-out: [504 Gateway Time-out], url: http://sandbox-proxy:8080/responses"));
    }

    [Theory]
    [InlineData("unexpected status 401 Unauthorized: invalid key, url: http://sandbox-proxy:8080/responses")]
    [InlineData("unexpected status 502 Bad Gateway: upstream, url: https://api.openai.com/v1/responses")]
    public void Other_model_errors_are_not_read_as_an_unreachable_model_api(string message)
    {
        Assert.False(ModelErrors.ProxyCouldNotReachModel(message));
    }
}
