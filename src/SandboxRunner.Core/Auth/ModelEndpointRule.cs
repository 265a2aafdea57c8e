using SandboxRunner.Configuration;

namespace SandboxRunner.Auth;

/// <summary>
/// Where the host's model key may go when the repository's file chose the endpoint. The proxy adds the key to every
/// request bound for <c>model_base_url</c>, so a file that names another endpoint (a pull request's, a cloned
/// repository's) would have the key sent there, past every wall that keeps it from the task. OpenAI's own API takes
/// it; any other endpoint only when the server's environment names the same URL in <see cref="Variable"/>, as the
/// ChatGPT backend is pinned to chatgpt.com. With no key on the host, or no network for tasks, nothing is sent.
/// </summary>
public static class ModelEndpointRule
{
    public const string Variable = "SANDBOX_RUNNER_MODEL_BASE_URL";

    /// <summary>The problem with sending the key to the file's endpoint; null when the key may go there (or goes nowhere).</summary>
    public static Problem? Check(RunnerConfig config, Func<string, string?> environment)
    {
        if (!config.ModelBaseUrlFromFile || config.NetworkPolicy == NetworkPolicy.None || string.IsNullOrEmpty(environment(config.ModelApiKeyEnv))
            || IsOpenAi(config.ModelBaseUrl) || Same(environment(Variable), config.ModelBaseUrl))
        {
            return null;
        }

        return new Problem("model_base_url",
            $"'{config.ModelBaseUrl}' would receive the model key ({config.ModelApiKeyEnv}) with every request, and it was named by {RunnerConfig.FileName}, " +
            $"which anyone who can change the repository writes; the key goes only to https://api.openai.com unless the server's environment names the same " +
            $"endpoint: set {Variable}={config.ModelBaseUrl} where the server starts (the MCP client's env, the CI job), or remove model_base_url");
    }

    private static bool IsOpenAi(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps && uri.Host == "api.openai.com" && uri.IsDefaultPort;

    private static bool Same(string? allowed, string url) =>
        !string.IsNullOrEmpty(allowed) && string.Equals(allowed.TrimEnd('/'), url.TrimEnd('/'), StringComparison.Ordinal);
}
