using SandboxRunner.Auth;
using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Auth;

/// <summary>The documented rule for which credential a run uses, and where a ChatGPT sign-in may go.</summary>
public sealed class CredentialRuleTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;

    [Theory]
    [InlineData("auto", "deny", true, true, CredentialKind.ApiKey)]
    [InlineData("auto", "deny", false, true, CredentialKind.ChatGpt)]
    [InlineData("auto", "deny", false, false, CredentialKind.None)]
    [InlineData("auto", "allow", false, true, CredentialKind.None)]
    [InlineData("auto", "none", false, true, CredentialKind.None)]
    [InlineData("api_key", "deny", false, true, CredentialKind.ApiKey)]
    [InlineData("chatgpt", "deny", true, true, CredentialKind.ChatGpt)]
    public void The_choice_follows_the_documented_rule(string method, string policy, bool keySet, bool signedIn, CredentialKind expected)
    {
        using var files = new SignInFiles(Now.AddDays(1));
        if (!signedIn)
        {
            File.Delete(files.AuthFilePath);
        }

        var config = RunnerConfig.Default with { AuthMethod = ConfigLoader.AuthMethods[method], NetworkPolicy = ConfigLoader.NetworkPolicies[policy] };

        var (choice, problem) = CredentialRule.Choose(config, files.Environment(keySet ? ("CODEX_API_KEY", "sk-test") : ("X", "y")));

        Assert.Null(problem);
        Assert.Equal(expected, choice!.Kind);
    }

    [Theory]
    [InlineData("allow", "the real tokens")]
    [InlineData("none", "cannot reach")]
    public void An_explicit_chatgpt_outside_deny_is_refused_with_the_reason_and_the_fix(string policy, string reason)
    {
        using var files = new SignInFiles(Now.AddDays(1));
        var config = RunnerConfig.Default with { AuthMethod = AuthMethod.ChatGpt, NetworkPolicy = ConfigLoader.NetworkPolicies[policy] };

        var (choice, problem) = CredentialRule.Choose(config, files.Environment());

        Assert.Null(choice);
        Assert.Equal("auth_method", problem!.Field);
        Assert.Contains(reason, problem.Rule, StringComparison.Ordinal);
        Assert.Contains("network_policy to \"deny\"", problem.Rule, StringComparison.Ordinal);
    }

    [Fact]
    public void A_damaged_auth_json_still_counts_as_a_sign_in_so_the_run_says_what_is_wrong()
    {
        using var files = new SignInFiles(Now);
        File.WriteAllText(files.AuthFilePath, "{ torn");

        var (choice, _) = CredentialRule.Choose(RunnerConfig.Default, files.Environment());

        Assert.Equal(CredentialKind.ChatGpt, choice!.Kind);
    }

    [Fact]
    public async Task The_resolver_refuses_a_damaged_sign_in_as_bad_input_naming_codex_login()
    {
        using var files = new SignInFiles(Now);
        File.WriteAllText(files.AuthFilePath, "{ torn");
        using var resolver = new CredentialResolver(RunnerConfig.Default, files.Environment(), TimeProvider.System);

        var e = await Assert.ThrowsAsync<InvalidInputException>(() => resolver.ResolveAsync(TimeSpan.FromHours(1), CancellationToken.None));

        Assert.Contains("codex login", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Config_reads_auth_method_and_chatgpt_base_url_and_refuses_bad_values()
    {
        var config = ConfigLoader.Parse("""{ "auth_method": "chatgpt", "chatgpt_base_url": "https://gov.chatgpt.com/backend-api/" }""");
        Assert.Equal(AuthMethod.ChatGpt, config.AuthMethod);
        Assert.Equal("https://gov.chatgpt.com/backend-api", config.ChatGptBaseUrl);
        Assert.Equal(RunnerConfig.DefaultChatGptBaseUrl, RunnerConfig.Default.ChatGptBaseUrl);

        var e = Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse("""{ "auth_method": "password", "chatgpt_base_url": "https://x/\"; proxy_pass http://evil" }"""));
        Assert.Contains(e.Problems, p => p.Field == "auth_method");
        Assert.Contains(e.Problems, p => p.Field == "chatgpt_base_url");
    }

    [Theory]
    [InlineData("https://attacker.example/backend-api")]
    [InlineData("http://chatgpt.com/backend-api")]
    [InlineData("https://chatgpt.com.attacker.example/backend-api")]
    public void A_repositorys_config_cannot_send_the_chatgpt_token_to_another_backend(string url)
    {
        var e = Assert.Throws<InvalidInputException>(() => ConfigLoader.Parse($$"""{ "chatgpt_base_url": "{{url}}" }"""));

        Assert.Contains("SANDBOX_RUNNER_CHATGPT_BASE_URL", Assert.Single(e.Problems).Rule, StringComparison.Ordinal);
    }
}
