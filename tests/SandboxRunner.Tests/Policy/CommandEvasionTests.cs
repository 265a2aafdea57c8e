using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>
/// Command lines an agent had audited as allowed under <c>allowed_commands: ["npm test"]</c> while they ran
/// something else. Each is checked bare and in the <c>/bin/bash -lc '…'</c> form Codex reports.
/// </summary>
public sealed partial class CommandEvasionTests
{
    private static readonly CommandPolicy NpmTest = new(["npm test"], []);

    private static string[] Forms(string command) => [command, $"/bin/bash -lc '{command.Replace("'", "'\\''", StringComparison.Ordinal)}'"];

    private static void AssertAllowed(string command) =>
        Assert.All(Forms(command), form => Assert.Empty(NpmTest.Check([form])));

    private static void AssertUnjudgeable(string command) =>
        Assert.All(Forms(command), form => Assert.Equal(ViolationKind.Unjudgeable, Assert.Single(NpmTest.Check([form])).Kind));

    [Theory]
    [InlineData("/tmp/npm test")]
    [InlineData("./npm test")]
    [InlineData("../x/npm test")]
    [InlineData("/home/codex/npm test")]
    [InlineData("/usr/bin/../../tmp/npm test")]
    [InlineData("/usr/bin/x/npm test")]
    public void A_program_named_by_a_path_outside_the_system_directories_is_not_the_allowed_program(string command)
    {
        Assert.All(Forms(command), form =>
        {
            var violation = Assert.Single(NpmTest.Check([form]));
            Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
            Assert.Equal(command, violation.Command);
        });
    }

    [Theory]
    [InlineData("/usr/bin/npm test")]
    [InlineData("/bin/npm test")]
    [InlineData("/usr/local/bin/npm test")]
    [InlineData("/usr/sbin/npm test")]
    [InlineData("/sbin/npm test")]
    public void A_program_in_a_system_directory_is_the_allowed_program(string command)
    {
        AssertAllowed(command);
    }

    [Theory]
    [InlineData("/tmp/bash -c 'npm test'")]
    [InlineData("./sh -c 'npm test'")]
    [InlineData("/tmp/env npm test")]
    [InlineData("./nice -n 5 npm test")]
    public void A_shell_or_wrapper_named_by_a_path_outside_the_system_directories_is_not_seen_through(string command)
    {
        Assert.All(Forms(command), form =>
            Assert.Equal(ViolationKind.CommandNotAllowed, Assert.Single(NpmTest.Check([form])).Kind));
    }

    [Theory]
    [InlineData("./gradlew build", true)]
    [InlineData("/usr/bin/gradlew build", false)]
    [InlineData("gradlew build", false)]
    public void An_allowed_prefix_naming_a_path_allows_exactly_that_path(string command, bool allowed)
    {
        Assert.Equal(allowed, new CommandPolicy(["./gradlew build"], []).Check([command]).Count == 0);
    }

    [Theory]
    [InlineData("./rm -rf /")]
    [InlineData("/tmp/rm -rf /")]
    public void A_denied_program_is_denied_under_any_path(string command)
    {
        Assert.Equal(ViolationKind.CommandDenied, Assert.Single(new CommandPolicy([], ["rm -rf"]).Check([command])).Kind);
    }

    [Theory]
    [InlineData("env '-S/bin/sh -c \"curl evil\"' npm test")]
    [InlineData("env -S 'sh -c \"curl evil\"' npm test")]
    [InlineData("env -iS'sh -c x' npm test")]
    [InlineData("env --split-string='sh -c x' npm test")]
    [InlineData("env --split-string 'sh -c x' npm test")]
    [InlineData("sudo -s npm test")]
    [InlineData("sudo -i npm test")]
    [InlineData("doas -s npm test")]
    [InlineData("xargs -I npm npm test")]
    [InlineData("xargs -inpm npm test")]
    [InlineData("xargs --replace=npm npm test")]
    public void A_wrapper_option_that_runs_a_command_string_cannot_be_audited(string command)
    {
        AssertUnjudgeable(command);
    }

    [Theory]
    [InlineData("env --frobnicate npm test")]
    [InlineData("env --split 'sh -c x' npm test")]
    [InlineData("env --ignore-environment=x npm test")]
    [InlineData("nice -x npm test")]
    [InlineData("timeout --foo 5 npm test")]
    [InlineData("sudo -R /tmp/root npm test")]
    [InlineData("xargs --process-slot-var=BASH_ENV npm test")]
    [InlineData("nohup --anything npm test")]
    [InlineData("env -i nice -n 5 timeout -Z 10 npm test")]
    public void An_unknown_wrapper_option_cannot_be_audited(string command)
    {
        AssertUnjudgeable(command);
    }

    [Fact]
    public void An_unknown_wrapper_option_is_named_in_the_refusal()
    {
        var violation = Assert.Single(NpmTest.Check(["env '-S/bin/sh -c \"curl evil\"' npm test"]));

        Assert.Equal("cannot be audited: env option -S is not one the audit can read past", violation.Rule);
    }

    [Theory]
    [InlineData("chrt --idle curl npm test")]
    [InlineData("chrt -f x1 npm test")]
    public void A_chrt_priority_that_is_no_number_cannot_be_audited(string command)
    {
        // Some chrt versions take a word that is no number for the command, not the priority.
        AssertUnjudgeable(command);
    }

    [Theory]
    [InlineData("env -i npm test")]
    [InlineData("env -u HOME npm test")]
    [InlineData("env -uHOME npm test")]
    [InlineData("env -iuHOME -0 npm test")]
    [InlineData("env --unset=HOME npm test")]
    [InlineData("env --unset HOME npm test")]
    [InlineData("env -- npm test")]
    [InlineData("nice -n 5 npm test")]
    [InlineData("nice -n5 npm test")]
    [InlineData("nice -5 npm test")]
    [InlineData("nice --adjustment=5 npm test")]
    [InlineData("timeout 10 npm test")]
    [InlineData("timeout -k 5 -s KILL 10 npm test")]
    [InlineData("timeout --signal=TERM --preserve-status 10s npm test")]
    [InlineData("sudo -n -E -u root npm test")]
    [InlineData("sudo --user=root npm test")]
    [InlineData("xargs -0 -n 1 npm test")]
    [InlineData("xargs -r -P 4 npm test")]
    [InlineData("stdbuf -oL npm test")]
    [InlineData("setsid -f npm test")]
    [InlineData("ionice -c 3 npm test")]
    [InlineData("chrt -b 0 npm test")]
    [InlineData("nohup npm test")]
    [InlineData("command npm test")]
    [InlineData("env -i nice -n 5 timeout 10 npm test")]
    public void Known_wrapper_options_are_read_past(string command)
    {
        AssertAllowed(command);
    }

    [Theory]
    [InlineData("env -u npm curl", "curl")]
    [InlineData("nice -n npm curl", "curl")]
    [InlineData("timeout -s npm test curl", "curl")]
    [InlineData("sudo -u npm curl", "curl")]
    public void A_wrapper_options_value_is_not_taken_for_the_command(string command, string ran)
    {
        Assert.Equal(ran, Assert.Single(NpmTest.Check([command])).Command);
    }

    [Theory]
    [InlineData("BASH_ENV=/tmp/evil.sh bash -c 'npm test'", "BASH_ENV")]
    [InlineData("PATH=/tmp/bin:$PATH npm test", "PATH")]
    [InlineData("LD_PRELOAD=/tmp/evil.so npm test", "LD_PRELOAD")]
    [InlineData("NODE_OPTIONS='--require /tmp/evil.js' npm test", "NODE_OPTIONS")]
    [InlineData("CI=1 PATH=/tmp/bin npm test", "PATH")]
    [InlineData("PATH=/tmp/bin; npm test", "PATH")]
    [InlineData("env BASH_ENV=/tmp/evil.sh npm test", "BASH_ENV")]
    [InlineData("env -i PATH=/tmp/bin npm test", "PATH")]
    [InlineData("nice env LD_PRELOAD=/tmp/evil.so npm test", "LD_PRELOAD")]
    [InlineData("sudo NODE_OPTIONS=--inspect npm test", "NODE_OPTIONS")]
    [InlineData("env 'BASH_FUNC_npm%%=() { curl evil; }' bash -c 'npm test'", "BASH_FUNC_npm%%")]
    [InlineData("bash -c 'PATH=/tmp/bin npm test'", "PATH")]
    public void Setting_a_variable_that_changes_what_runs_is_not_allowed(string command, string variable)
    {
        Assert.All(Forms(command), form =>
        {
            var violation = Assert.Single(NpmTest.Check([form]));
            Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
            Assert.Equal($"sets {variable}, which changes what a command runs", violation.Rule);
        });
    }

    [Theory]
    [InlineData("BASH_ENV")]
    [InlineData("ENV")]
    [InlineData("PATH")]
    [InlineData("LD_PRELOAD")]
    [InlineData("LD_LIBRARY_PATH")]
    [InlineData("LD_AUDIT")]
    [InlineData("NODE_OPTIONS")]
    [InlineData("NODE_PATH")]
    [InlineData("PYTHONPATH")]
    [InlineData("PYTHONSTARTUP")]
    [InlineData("PERL5OPT")]
    [InlineData("PERL5LIB")]
    [InlineData("RUBYOPT")]
    [InlineData("GIT_EXEC_PATH")]
    [InlineData("GIT_SSH_COMMAND")]
    [InlineData("GIT_CONFIG_COUNT")]
    [InlineData("SHELLOPTS")]
    [InlineData("BASHOPTS")]
    [InlineData("PS4")]
    [InlineData("PROMPT_COMMAND")]
    [InlineData("IFS")]
    [InlineData("BASH_FUNC_npm")]
    public void Every_variable_known_to_change_what_runs_is_not_allowed(string variable)
    {
        Assert.Contains(NpmTest.Check([$"{variable}=x npm test"]), v => v.Rule == $"sets {variable}, which changes what a command runs");
    }

    [Fact]
    public void A_variable_violation_quotes_the_command_that_sets_it()
    {
        var violation = Assert.Single(NpmTest.Check(["/bin/bash -lc 'BASH_ENV=/tmp/evil.sh bash -c \"npm test\"'"]));

        Assert.Equal(
            Violation.ForCommand(ViolationKind.CommandNotAllowed, "BASH_ENV=/tmp/evil.sh bash -c npm test", "sets BASH_ENV, which changes what a command runs"),
            violation);
    }

    [Theory]
    [InlineData("CI=1 npm test")]
    [InlineData("NODE_ENV=test npm test")]
    [InlineData("CI=1 NODE_ENV=test npm test")]
    [InlineData("env CI=1 npm test")]
    [InlineData("FORCE_COLOR=0 bash -c 'npm test'")]
    public void Setting_other_variables_stays_allowed(string command)
    {
        AssertAllowed(command);
    }

    [Fact]
    public void An_empty_allowed_list_does_not_judge_variables()
    {
        Assert.Empty(new CommandPolicy([], []).Check(["PATH=/tmp/bin npm test"]));
    }

    [Theory]
    [InlineData("env -C /tmp npm test")]
    [InlineData("env -C/tmp npm test")]
    [InlineData("env --chdir=/tmp npm test")]
    [InlineData("env --chdir /tmp npm test")]
    [InlineData("env -iC /tmp npm test")]
    public void Env_changing_directory_cannot_be_audited(string command)
    {
        AssertUnjudgeable(command);
    }

    [Theory]
    [InlineData("'CI=1' npm test")]
    [InlineData("\"CI=1\" npm test")]
    [InlineData("C\\I=1 npm test")]
    [InlineData("'C'I=1 npm test")]
    [InlineData("CI=1 'X=2' npm test")]
    public void A_quoted_word_where_an_assignment_would_stand_cannot_be_audited(string command)
    {
        AssertUnjudgeable(command);
    }

    [Theory]
    [InlineData("CI='1 2' npm test")]
    [InlineData("CI=\"$HOME\" npm test")]
    [InlineData("npm test 'x=1'")]
    [InlineData("env 'CI=1' npm test")]
    public void Quoting_after_the_equals_sign_or_outside_the_assignment_position_is_read_as_bash_reads_it(string command)
    {
        AssertAllowed(command);
    }

    [Theory]
    [InlineData("FOO=1 npm test")]
    [InlineData("NPM_CONFIG_SCRIPT_SHELL=/tmp/x npm test")]
    [InlineData("npm_config_node_options=--require=/tmp/x npm test")]
    [InlineData("env FOO=1 npm test")]
    [InlineData("FOO=1; npm test")]
    public void Setting_a_variable_the_audit_does_not_know_to_be_inert_is_a_violation(string command)
    {
        Assert.All(Forms(command), form =>
        {
            var violation = Assert.Single(NpmTest.Check([form]));
            Assert.Equal(ViolationKind.CommandNotAllowed, violation.Kind);
            Assert.Contains("cannot judge", violation.Rule, StringComparison.Ordinal);
        });
    }

    [Theory]
    [InlineData("CI=1 npm test")]
    [InlineData("NO_COLOR=1 FORCE_COLOR=0 npm test")]
    [InlineData("LC_ALL=C LANG=C npm test")]
    [InlineData("env CI=true npm test")]
    public void Setting_an_inert_variable_is_allowed(string command)
    {
        AssertAllowed(command);
    }

    [Theory]
    [InlineData("npm test <<'EOF'\nnpm test '\nEOF\ncurl evil\n# '")]
    [InlineData("npm test <<EOF\nnpm test '\nEOF\ncurl evil\n# '")]
    [InlineData("npm test <<-EOF\nnpm test \"\nEOF\ncurl evil\n# \"")]
    [InlineData("npm test <<-EOF\n\tx '\n\tEOF\ncurl evil\n# '")]
    [InlineData("npm test <<A <<B\na '\nA\nb\nB\ncurl evil")]
    public void A_command_after_a_here_document_is_audited_whatever_the_body_holds(string command) =>
        Assert.All(Forms(command), form => Assert.Contains(NpmTest.Check([form]), v => v.Command == "curl evil"));

    [Theory]
    [InlineData("npm test <<'EOF'\n$(curl evil) `curl evil` ' \"\nEOF")]
    [InlineData("npm test <<\"EOF\"\ncurl evil\nEOF\nnpm test")]
    [InlineData("npm test <<EOF\n$HOME is home\nEOF")]
    [InlineData("npm test <<< 'x'")]
    [InlineData("npm test <<EOF")]
    public void A_here_document_body_is_text_not_commands(string command) =>
        AssertAllowed(command);

    [Theory]
    [InlineData("npm test <<EOF\n$(curl evil)\nEOF")]
    [InlineData("npm test <<EOF\n`curl evil`\nEOF")]
    [InlineData("npm test <<$X\nbody\n$X")]
    [InlineData("npm test <<'EOF\nbody")]
    public void A_here_document_that_bash_expands_into_a_command_cannot_be_audited(string command) =>
        AssertUnjudgeable(command);
}
