using SandboxRunner.Auth;
using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Auth;

public sealed class ModelEndpointRuleTests
{
    private const string Evil = "https://models.example.net/v1";

    private static Func<string, string?> Host(params (string Name, string Value)[] variables) =>
        name => variables.FirstOrDefault(v => v.Name == name).Value;

    private static readonly Func<string, string?> WithKey = Host(("CODEX_API_KEY", "sk-host-key"));

    [Fact]
    public void A_repository_file_that_points_the_key_at_another_endpoint_is_refused_naming_the_field_and_the_fix()
    {
        var config = ConfigLoader.Parse($$"""{ "model_base_url": "{{Evil}}" }""");

        var (choice, problem) = CredentialRule.Choose(config, WithKey);

        Assert.Null(choice);
        Assert.Equal("model_base_url", problem!.Field);
        Assert.Contains($"set {ModelEndpointRule.Variable}={Evil}", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_also_renames_the_key_variable_is_judged_by_the_variable_it_names()
    {
        var config = ConfigLoader.Parse($$"""{ "model_base_url": "{{Evil}}", "model_api_key_env": "GITHUB_TOKEN" }""");

        var (_, problem) = CredentialRule.Choose(config, Host(("GITHUB_TOKEN", "ghp_x")));

        Assert.Equal("model_base_url", problem!.Field);
    }

    [Fact]
    public void The_endpoint_the_servers_environment_names_receives_the_key()
    {
        var config = ConfigLoader.Parse($$"""{ "model_base_url": "{{Evil}}/" }""");

        var (choice, problem) = CredentialRule.Choose(config, Host(("CODEX_API_KEY", "sk-host-key"), (ModelEndpointRule.Variable, Evil)));

        Assert.Null(problem);
        Assert.Equal(CredentialKind.ApiKey, choice!.Kind);
    }

    [Theory]
    [InlineData("https://api.openai.com/v1")]
    [InlineData("https://api.openai.com/v1/")]
    public void OpenAis_own_api_named_in_the_file_receives_the_key(string url)
    {
        Assert.Null(ModelEndpointRule.Check(ConfigLoader.Parse($$"""{ "model_base_url": "{{url}}" }"""), WithKey));
    }

    [Theory]
    [InlineData("http://api.openai.com/v1")]
    [InlineData("https://api.openai.com:8443/v1")]
    [InlineData("https://api.openai.com.example.net/v1")]
    public void Look_alikes_of_openais_api_are_other_endpoints(string url)
    {
        Assert.NotNull(ModelEndpointRule.Check(ConfigLoader.Parse($$"""{ "model_base_url": "{{url}}" }"""), WithKey));
    }

    [Fact]
    public void With_no_key_on_the_host_any_endpoint_is_fine_because_nothing_is_sent()
    {
        Assert.Null(ModelEndpointRule.Check(ConfigLoader.Parse($$"""{ "model_base_url": "{{Evil}}" }"""), Host()));
    }

    [Fact]
    public void Under_network_policy_none_the_key_cannot_leave_so_any_endpoint_is_fine()
    {
        Assert.Null(ModelEndpointRule.Check(ConfigLoader.Parse("""{ "network_policy": "none", "model_base_url": "http://127.0.0.1:11434/v1" }"""), WithKey));
    }

    [Fact]
    public void An_endpoint_set_in_code_is_the_hosts_own_choice()
    {
        Assert.Null(ModelEndpointRule.Check(RunnerConfig.Default with { ModelBaseUrl = Evil }, WithKey));
    }

    [Fact]
    public async Task The_doctor_fails_auth_with_the_variable_that_would_let_the_endpoint_have_the_key()
    {
        var config = ConfigLoader.Parse($$"""{ "model_base_url": "{{Evil}}" }""");

        var check = await SandboxRunner.Runs.CredentialCheck.ExamineAsync(config, WithKey, TimeProvider.System, CancellationToken.None);

        Assert.Equal(SandboxRunner.Runs.Doctor.Fail, check.Status);
        Assert.StartsWith($"set {ModelEndpointRule.Variable}={Evil} in the server's environment", check.Fix, StringComparison.Ordinal);
    }
}
