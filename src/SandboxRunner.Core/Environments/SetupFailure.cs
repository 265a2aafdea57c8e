using SandboxRunner.Policy;

namespace SandboxRunner.Environments;

/// <summary>
/// The message of a failed setup: which command of <c>setup</c> failed and how, in one complete first line
/// (progress lines and summaries show only that), the likely cause when the output names one the user can fix
/// in the config (a command that needs root; a network that inspects TLS), then the command's last lines.
/// </summary>
public static class SetupFailure
{
    /// <summary>What TLS libraries print when a certificate authority in the chain is not trusted (npm, curl/git/OpenSSL, Python, Go, .NET, Java).</summary>
    private static readonly string[] UntrustedCertificate =
    [
        "SELF_SIGNED_CERT_IN_CHAIN", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "UNABLE_TO_VERIFY_LEAF_SIGNATURE", "self-signed certificate in certificate chain",
        "self signed certificate in certificate chain", "unable to get local issuer certificate", "CERTIFICATE_VERIFY_FAILED", "certificate verify failed",
        "server certificate verification failed", "x509: certificate signed by unknown authority", "The remote certificate is invalid",
        "PKIX path building failed", "SSL certificate problem",
    ];

    /// <summary>Package managers that install into the system and need root.</summary>
    private static readonly string[] SystemPackageManagers = ["apt-get", "apt", "dpkg", "yum", "dnf", "microdnf", "apk", "zypper", "pacman", "sudo"];

    /// <param name="key">The failing command's field inside the environment (<c>setup[1]</c>), or null when it is not known.</param>
    /// <param name="command">The failing command as the config holds it, or null.</param>
    /// <param name="what">How it ended: <c>exited with 100</c>, <c>did not finish within 30 minutes</c>.</param>
    /// <param name="output">Its last output lines (the runner's own step lines left out).</param>
    public static SetupFailedException Describe(string? key, int? step, int steps, string? command, string what, string logFile, IReadOnlyList<string> output)
    {
        var which = command is null ? "setup" : $"`{TerminalText.Neutralise(command)}` (command {step} of {steps})";
        var hint = Hint(command, output);
        var lines = output.Count == 0 ? "\nit printed nothing" : $"\nits last lines:\n{string.Join('\n', output)}";
        return new SetupFailedException(
            $"environment.{key ?? "setup"}: {which} {what}{(hint is null ? "" : $": {hint}")}; fix the command in setup (its log: {logFile}){lines}",
            output);
    }

    private static string? Hint(string? command, IReadOnlyList<string> output)
    {
        if (UntrustedCertificate.Any(marker => output.Any(line => line.Contains(marker, StringComparison.OrdinalIgnoreCase))))
        {
            return "a certificate authority in the server's chain is not trusted here, as behind a network that inspects TLS; trust it for setup and tasks with " +
                "\"extra_ca_certs\" in .mcp-codex.json: [\"host\"] for this machine's trusted authorities, or the paths of PEM files";
        }

        var program = command?.TrimStart().Split(' ', 2)[0];
        var systemInstall = program is not null && SystemPackageManagers.Contains(Path.GetFileName(program), StringComparer.Ordinal);
        var denied = output.Any(line => line.Contains("Permission denied", StringComparison.OrdinalIgnoreCase) || line.Contains("are you root", StringComparison.OrdinalIgnoreCase)
            || line.Contains("must be run as root", StringComparison.OrdinalIgnoreCase) || line.Contains("sudo: not found", StringComparison.Ordinal)
            || line.Contains("sudo: command not found", StringComparison.Ordinal));
        return systemInstall && denied
            ? "setup runs as uid 1000, not root, so it cannot install system packages; install them in the base image, or in a Dockerfile named by dockerfile (RUN apt-get install -y …)"
            : null;
    }
}
