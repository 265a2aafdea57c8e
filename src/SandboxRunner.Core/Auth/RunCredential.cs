using SandboxRunner.Configuration;

namespace SandboxRunner.Auth;

/// <summary>Which credential a run's model requests carry; serialised as <c>api_key</c>, <c>chatgpt</c>, <c>none</c>.</summary>
public enum CredentialKind
{
    [System.Text.Json.Serialization.JsonStringEnumMemberName("none")] None,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("api_key")] ApiKey,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("chatgpt")] ChatGpt,
}

/// <summary>
/// The credential one run uses, resolved on the host before the run starts (the ChatGPT sign-in refreshed when it
/// would expire during the run). It goes to the egress proxy, never into a task. <see cref="ToString"/> shows no secret.
/// </summary>
public sealed class RunCredential
{
    private RunCredential(CredentialKind kind, string reason, string? apiKey, ChatGptTokens? chatGpt, string? chatGptUpstream = null)
    {
        ChatGptUpstream = chatGptUpstream;
        Kind = kind;
        Reason = reason;
        ApiKey = apiKey;
        ChatGpt = chatGpt;
    }

    public CredentialKind Kind { get; }

    /// <summary>Why this credential: the rule or setting that chose it, for the doctor and the logs.</summary>
    public string Reason { get; }

    public string? ApiKey { get; }

    public ChatGptTokens? ChatGpt { get; }

    /// <summary>The ChatGPT backend the proxy forwards to (<c>chatgpt_base_url</c>, or the host's override).</summary>
    public string? ChatGptUpstream { get; }

    /// <summary>The name in results and the doctor's report.</summary>
    public string Wire => Name(Kind);

    public static string Name(CredentialKind kind) => Platform.WireName.Of(kind);

    public static RunCredential ForApiKey(string? key, string reason) => new(CredentialKind.ApiKey, reason, key, null);

    public static RunCredential ForChatGpt(ChatGptTokens tokens, string reason, string upstream) => new(CredentialKind.ChatGpt, reason, null, tokens, upstream);

    public static RunCredential None(string reason) => new(CredentialKind.None, reason, null, null);

    public override string ToString() => $"{Wire} ({Reason})";
}

/// <summary>What <see cref="CredentialRule.Choose"/> decided, before anything is read or refreshed.</summary>
public sealed record CredentialChoice(CredentialKind Kind, string Reason, string? AuthFilePath);

/// <summary>
/// The documented rule for which credential a run uses, and where each one may go:
/// <list type="bullet">
/// <item><c>auth_method: "api_key"</c> or <c>"chatgpt"</c> choose explicitly.</item>
/// <item><c>"auto"</c> (the default): the API key when the variable <c>model_api_key_env</c> names is set on the host;
/// else the ChatGPT sign-in when the host's <c>$CODEX_HOME/auth.json</c> holds one; else none.</item>
/// <item>The ChatGPT sign-in is used only under <c>network_policy: deny</c>: there the egress proxy adds the tokens
/// to the requests bound for the ChatGPT backend and the task holds placeholders. Under <c>allow</c> Codex in the
/// task would have to hold the real tokens, and under <c>none</c> it cannot reach the backend at all, so an explicit
/// <c>chatgpt</c> is refused there and <c>auto</c> never picks it (the tokens are never copied into a task).</item>
/// </list>
/// </summary>
public static class CredentialRule
{
    public const string Field = "auth_method";

    /// <summary>The choice, or the problem (field and rule) that makes the configured one unusable.</summary>
    public static (CredentialChoice? Choice, Problem? Problem) Choose(RunnerConfig config, Func<string, string?> environment)
    {
        var (choice, problem) = ChooseKind(config, environment);
        return choice?.Kind == CredentialKind.ApiKey && ModelEndpointRule.Check(config, environment) is { } endpoint ? (null, endpoint) : (choice, problem);
    }

    private static (CredentialChoice? Choice, Problem? Problem) ChooseKind(RunnerConfig config, Func<string, string?> environment)
    {
        var authFile = AuthFile.PathFor(environment);
        var where = authFile ?? "$CODEX_HOME/auth.json (neither CODEX_HOME nor HOME is set)";
        var keySet = !string.IsNullOrEmpty(environment(config.ModelApiKeyEnv));
        var policy = ConfigLoader.NetworkPolicies.First(p => p.Value == config.NetworkPolicy).Key;
        switch (config.AuthMethod)
        {
            case AuthMethod.ApiKey:
                return (new CredentialChoice(CredentialKind.ApiKey, $"auth_method \"api_key\" ({config.ModelApiKeyEnv})", authFile), null);
            case AuthMethod.ChatGpt when config.NetworkPolicy != NetworkPolicy.Deny:
                return (null, new Problem(Field, ChatGptNeedsDeny(policy)));
            case AuthMethod.ChatGpt:
                return (new CredentialChoice(CredentialKind.ChatGpt, $"auth_method \"chatgpt\" ({where})", authFile), null);
        }

        if (keySet)
        {
            return (new CredentialChoice(CredentialKind.ApiKey, $"auto: {config.ModelApiKeyEnv} is set", authFile), null);
        }

        if (AuthFile.HoldsChatGpt(authFile))
        {
            return config.NetworkPolicy == NetworkPolicy.Deny
                ? (new CredentialChoice(CredentialKind.ChatGpt, $"auto: {config.ModelApiKeyEnv} is not set and {where} holds a ChatGPT sign-in", authFile), null)
                : (new CredentialChoice(CredentialKind.None, $"auto: {config.ModelApiKeyEnv} is not set; the ChatGPT sign-in in {where} is not used under network_policy {policy}", authFile), null);
        }

        return (new CredentialChoice(CredentialKind.None, $"auto: {config.ModelApiKeyEnv} is not set and {where} holds no ChatGPT sign-in", authFile), null);
    }

    public static string ChatGptNeedsDeny(string policy) =>
        $"\"chatgpt\" needs network_policy \"deny\" (is \"{policy}\"): only there does the egress proxy hold the ChatGPT tokens and the task placeholders; " +
        (policy == "none"
            ? "under none the task cannot reach the ChatGPT backend at all"
            : "under allow Codex in the task would need the real tokens, which are bearer credentials for the whole account") +
        "; set network_policy to \"deny\" (list the hosts a task needs in network_allowlist) or use an API key (auth_method \"api_key\")";
}
