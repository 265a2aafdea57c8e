using SandboxRunner.Environments;

namespace SandboxRunner.Tests.Environments;

/// <summary>What a failed setup says: the command and how it failed in one whole first line, the cause when the output names one the config can fix, then its output.</summary>
public sealed class SetupFailureTests
{
    private const string Log = "/repo/.codex-runs/r1/environments/default/setup.log";

    [Fact]
    public void A_failed_command_is_named_by_its_field_its_text_and_its_place_with_its_last_lines()
    {
        var e = SetupFailure.Describe("setup[0]", 1, 1, "npm ci", "exited with 1", Log, ["npm ERR! code E404", "npm ERR! 404 Not Found"]);

        Assert.Equal(
            "environment.setup[0]: `npm ci` (command 1 of 1) exited with 1; fix the command in setup (its log: /repo/.codex-runs/r1/environments/default/setup.log)\n" +
            "its last lines:\nnpm ERR! code E404\nnpm ERR! 404 Not Found",
            e.Message);
    }

    [Fact]
    public void A_command_that_printed_nothing_says_so()
    {
        var e = SetupFailure.Describe("setup[1]", 2, 2, "false", "exited with 1", Log, []);

        Assert.EndsWith("(its log: /repo/.codex-runs/r1/environments/default/setup.log)\nit printed nothing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_named_environment_gets_its_own_field()
    {
        var e = SetupFailure.Describe("setup[0]", 1, 1, "npm ci", "exited with 1", Log, []).In("environments.node");

        Assert.StartsWith("environments.node.setup[0]: `npm ci` (command 1 of 1) exited with 1;", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_system_package_install_refused_for_want_of_root_says_setup_is_not_root_and_where_packages_belong()
    {
        var e = SetupFailure.Describe("setup[0]", 1, 2, "apt-get install -y libpq-dev", "exited with 100", Log,
            ["E: Could not open lock file /var/lib/dpkg/lock-frontend - open (13: Permission denied)", "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), are you root?"]);

        Assert.StartsWith(
            "environment.setup[0]: `apt-get install -y libpq-dev` (command 1 of 2) exited with 100: setup runs as uid 1000, not root, so it cannot install system packages; " +
            "install them in the base image, or in a Dockerfile named by dockerfile (RUN apt-get install -y …); fix the command in setup",
            e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("npm ci", "npm ERR! code SELF_SIGNED_CERT_IN_CHAIN")]
    [InlineData("pip install -e .", "SSL: CERTIFICATE_VERIFY_FAILED certificate verify failed: self-signed certificate in certificate chain")]
    [InlineData("git ls-remote https://example.com/x.git", "fatal: unable to access 'https://example.com/x.git/': SSL certificate problem: self-signed certificate in certificate chain")]
    [InlineData("dotnet restore", "error NU1301: The SSL connection could not be established. The remote certificate is invalid because of errors in the certificate chain: UntrustedRoot")]
    public void An_untrusted_certificate_authority_names_the_extra_ca_certs_option(string command, string line)
    {
        var e = SetupFailure.Describe("setup[0]", 1, 1, command, "exited with 1", Log, [line]);

        Assert.Contains(
            "exited with 1: a certificate authority in the server's chain is not trusted here, as behind a network that inspects TLS; trust it for setup and tasks with " +
            "\"extra_ca_certs\" in .mcp-codex.json: [\"host\"] for this machine's trusted authorities, or the paths of PEM files; fix the command in setup",
            e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_first_line_is_whole_so_a_progress_line_or_summary_that_shows_only_it_reads_as_a_sentence()
    {
        var first = SetupFailure.Describe("setup[0]", 1, 1, "npm ci", "exited with 1", Log, ["x"]).Message.Split('\n')[0];

        Assert.EndsWith("(its log: /repo/.codex-runs/r1/environments/default/setup.log)", first, StringComparison.Ordinal);
    }
}
