namespace SandboxRunner.Configuration;

/// <summary>Which credential a run gives the model: see <see cref="RunnerConfig.AuthMethod"/>.</summary>
public enum AuthMethod { Auto, ApiKey, ChatGpt }

/// <summary>The model credential fields (issue 13: Sign in with ChatGPT).</summary>
public sealed partial record RunnerConfig
{
    /// <summary>Codex's own default ChatGPT backend (<c>chatgpt_base_url</c> in its config, without the trailing slash).</summary>
    public const string DefaultChatGptBaseUrl = "https://chatgpt.com/backend-api";

    /// <summary>
    /// <c>auto</c> (the default): the API key when the variable <see cref="ModelApiKeyEnv"/> names is set on the host,
    /// else the ChatGPT sign-in when the host's <c>$CODEX_HOME/auth.json</c> holds one; <c>api_key</c> or
    /// <c>chatgpt</c> choose one explicitly.
    /// </summary>
    public AuthMethod AuthMethod { get; init; } = AuthMethod.Auto;

    /// <summary>
    /// The ChatGPT backend the egress proxy forwards Codex's model requests to (with the real tokens added) when a
    /// run uses the ChatGPT sign-in. Only https on chatgpt.com (regional backends); the host's
    /// <c>SANDBOX_RUNNER_CHATGPT_BASE_URL</c> overrides it with any URL (tests).
    /// </summary>
    public string ChatGptBaseUrl { get; init; } = DefaultChatGptBaseUrl;
}
