using SandboxRunner.Configuration;
using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

/// <summary>
/// The baseline must not become a bypass: every way a baseline program (or a wrapper around one) can start
/// another program either has that program judged, or makes the line unjudgeable. Under the default
/// <c>allowed_commands</c>, each line below ran <c>curl</c> (or something else nobody allowed) through a program
/// the audit lets through.
/// </summary>
public sealed partial class CommandEvasionTests
{
    private static readonly CommandPolicy Default = new(RunnerConfig.Default.AllowedCommands, []);

    private static IReadOnlyList<Violation> DefaultCheck(string command) => Default.Check([command]);

    [Theory]
    [InlineData("find . -exec curl evil \\;", "curl evil")]
    [InlineData("find . -name x -exec curl evil {} +", "curl evil {}")]
    [InlineData("find . -execdir curl evil ';'", "curl evil")]
    [InlineData("find . -ok curl evil \\;", "curl evil")]
    [InlineData("find . -okdir curl evil \\;", "curl evil")]
    [InlineData("find . -exec sh -c 'curl evil' \\;", "curl evil")]
    [InlineData("find . -exec ls \\; -exec curl evil \\;", "curl evil")]
    [InlineData("find . -exec env curl evil \\;", "curl evil")]
    [InlineData("xargs curl evil < urls", "curl evil")]
    [InlineData("xargs -0 -n1 curl evil", "curl evil")]
    [InlineData("xargs -I{} curl {}", "curl {}")]
    [InlineData("xargs sh -c 'curl evil'", "curl evil")]
    [InlineData("env curl evil", "curl evil")]
    [InlineData("env CI=1 timeout 5 nice -n 5 nohup curl evil", "curl evil")]
    [InlineData("timeout 5 curl evil", "curl evil")]
    [InlineData("nice curl evil", "curl evil")]
    [InlineData("nohup curl evil", "curl evil")]
    [InlineData("sh -c 'curl evil'", "curl evil")]
    [InlineData("bash -lc \"ls && curl evil\"", "curl evil")]
    [InlineData("watch -n 1 'curl evil'", "curl evil")]
    [InlineData("watch -x curl evil", "curl evil")]
    [InlineData("busybox sh -c 'curl evil'", "curl evil")]
    [InlineData("command curl evil", "curl evil")]
    [InlineData("ls $(curl evil)", "curl evil")]
    [InlineData("git status | curl evil", "curl evil")]
    [InlineData("cat <<< \"$(curl evil)\"", "curl evil")]
    [InlineData("cat <<<$(curl evil)", "curl evil")]
    [InlineData("tee >(curl evil) < a", "curl evil")]
    [InlineData("cat <(curl evil)", "curl evil")]
    public void A_program_started_by_a_baseline_program_or_wrapper_is_judged_itself(string command, string started)
    {
        Assert.All(Forms(command), form => Assert.Contains(DefaultCheck(form), v => v.Kind == ViolationKind.CommandNotAllowed && v.Command == started));
    }

    [Theory]
    [InlineData("ls $((curl evil) )")]
    [InlineData("echo \"$((curl evil) )\"")]
    [InlineData("echo $(( $((curl evil) ) + 1 ))")]
    [InlineData("echo $((curl evil)|tail -1)")]
    public void A_double_parenthesis_that_bash_reads_as_a_command_substitution_is_audited_as_one(string command)
    {
        Assert.All(Forms(command), form => Assert.Contains(DefaultCheck(form), v => v.Command == "curl evil"));
    }

    [Theory]
    [InlineData("echo $((1 + 2))")]
    [InlineData("sed -n \"$((n - 5)),$(( (n + 5) * 2 ))p\" src/a.js")]
    [InlineData("echo $(( $(wc -l < a) + 1 ))")]
    public void Arithmetic_stays_arithmetic(string command)
    {
        Assert.All(Forms(command), form => Assert.Empty(DefaultCheck(form)));
    }

    [Theory]
    [InlineData("find . -exec {} \\;")]
    [InlineData("find . -exec ./{} \\;")]
    [InlineData("xargs -I{} {}")]
    [InlineData("xargs -I CMD sh -c CMD")]
    [InlineData("xargs -I{} sh -c 'echo {}'")]
    [InlineData("xargs -I{} awk {} data")]
    [InlineData("xargs -I{} git -c {} log")]
    [InlineData("xargs env")]
    [InlineData("xargs timeout 5")]
    [InlineData("xargs -I{} env {}")]
    [InlineData("xargs find .")]
    [InlineData("xargs git")]
    [InlineData("xargs sed -n 1p")]
    [InlineData("xargs awk")]
    [InlineData("xargs rg -n foo")]
    [InlineData("xargs sort")]
    [InlineData("awk 'BEGIN { system(\"curl evil\") }'")]
    [InlineData("awk '{ print | \"sh\" }' cmds.txt")]
    [InlineData("awk 'BEGIN { \"curl evil\" | getline x; print x }'")]
    [InlineData("gawk 'BEGIN { print \"id\" |& \"sh\" }'")]
    [InlineData("gawk '@load \"filefuncs\"; BEGIN { }'")]
    [InlineData("gawk 'BEGIN { f = \"system\"; @f(\"curl evil\") }'")]
    [InlineData("awk -f prog.awk data")]
    [InlineData("gawk -l ./evil.so 'BEGIN {}'")]
    [InlineData("gawk -i inc.awk 'BEGIN {}'")]
    [InlineData("mawk -W exec prog.awk")]
    [InlineData("awk 'x++ / 2 | \"sh\" /'")]
    [InlineData("sed e")]
    [InlineData("sed '1e curl evil' src/a.js")]
    [InlineData("sed 's/.*/curl evil/e' src/a.js")]
    [InlineData("sed -n -e p -e 's/x/id/e' a")]
    [InlineData("sed --expression='1e id' a")]
    [InlineData("sed -f script.sed a")]
    [InlineData("sed ': a;e id' a")]
    [InlineData("sed '/x/{e id\n}' a")]
    [InlineData("git -c core.pager='sh -c \"curl evil\"' log")]
    [InlineData("git -c alias.st='!curl evil' st")]
    [InlineData("git -c core.fsmonitor='curl evil' status")]
    [InlineData("git -c diff.external=/tmp/evil diff")]
    [InlineData("git --config-env=core.pager=EVIL log")]
    [InlineData("git --exec-path=/tmp/bin status")]
    [InlineData("git grep -Ocurl foo")]
    [InlineData("git grep --open-files-in-pager=curl foo")]
    [InlineData("parallel curl ::: evil")]
    [InlineData("less '+!curl evil' README.md")]
    [InlineData("vi -c '!curl evil' README.md")]
    [InlineData("ed README.md < script")]
    [InlineData("sort --compress-program=/tmp/evil big.txt")]
    [InlineData("rg --pre /tmp/evil foo")]
    [InlineData("tar --to-command='curl evil' -xf a.tar")]
    [InlineData("tar -I /tmp/evil -xf a.tar")]
    [InlineData("flock /tmp/l curl evil")]
    public void A_baseline_program_made_to_start_a_program_its_words_do_not_show_cannot_be_audited(string command)
    {
        Assert.All(Forms(command), form => Assert.Equal(ViolationKind.Unjudgeable, Assert.Single(DefaultCheck(form)).Kind));
    }

    [Fact]
    public void An_allowed_launcher_does_not_allow_what_it_launches()
    {
        var policy = new CommandPolicy(["find", "xargs", "sed", "awk", "git"], []);

        Assert.Contains(policy.Check(["find . -exec curl evil \\;"]), v => v.Command == "curl evil");
        Assert.Equal(ViolationKind.Unjudgeable, Assert.Single(policy.Check(["sed 's/x/id/e' a"])).Kind);
        Assert.Equal(ViolationKind.Unjudgeable, Assert.Single(policy.Check(["git -c core.pager=sh log"])).Kind);
    }

    [Theory]
    [InlineData("sed e", "cannot be audited: sed's e command runs a command")]
    [InlineData("sed 's/x/y/e'", "cannot be audited: sed's s///e flag runs a command")]
    [InlineData("awk 'BEGIN{system(\"id\")}'", "cannot be audited: awk's program calls system()")]
    [InlineData("find . -exec {} \\;", "cannot be audited: find -exec runs the files it finds as programs")]
    [InlineData("git -c core.pager=sh log", "cannot be audited: git -c core.pager sets configuration that can name a program for git to run (core.pager, alias.*, diff.external, core.fsmonitor …)")]
    public void A_launch_the_audit_cannot_follow_is_named_in_the_refusal(string command, string rule)
    {
        Assert.Equal(rule, Assert.Single(DefaultCheck(command)).Rule);
    }

    [Theory]
    [InlineData("awk \"$P\" data")]
    [InlineData("awk -e \"$P\" data")]
    [InlineData("sed \"$p\" src/a.js")]
    [InlineData("sed -e \"$S\" a")]
    [InlineData("sed -n \"$(cat s.sed)\" a")]
    [InlineData("find . $A curl \\;")]
    [InlineData("find . -ex$X curl \\;")]
    [InlineData("find *")]
    [InlineData("find . {-exec,curl,\\;}")]
    [InlineData("sort *")]
    [InlineData("tar -cf a.tar *")]
    [InlineData("rg --files *")]
    [InlineData("rg -n foo \"$f\"")]
    [InlineData("git grep $X foo")]
    [InlineData("git -c \"$K\" log")]
    [InlineData("sed -n 1p *.js")]
    [InlineData("bash -c \"$S\"")]
    [InlineData("watch \"$CMD\"")]
    [InlineData("set $OPTS")]
    public void An_argument_bash_fills_in_where_it_could_become_an_option_or_code_cannot_be_audited(string command)
    {
        // A variable, a command's output or a glob (a file named --pre=x, -e1ecurl) is only known when bash runs.
        Assert.All(Forms(command), form => Assert.Equal(ViolationKind.Unjudgeable, Assert.Single(DefaultCheck(form)).Kind));
    }

    [Theory]
    [InlineData("sed -n '1,20p' src/*.js")]
    [InlineData("sed -n 1p -- \"$f\"")]
    [InlineData("awk '{print $1}' \"$f\"")]
    [InlineData("rg -n foo -- \"$f\"")]
    [InlineData("rg -n foo src/*.ts")]
    [InlineData("git diff -- \"$f\"")]
    [InlineData("cat \"$HOME/.gitconfig\" | head -n 3")]
    [InlineData("find . -name '*.js' -exec sed -n 1p {} +")]
    [InlineData("for f in src/*.js; do head -n 5 \"$f\"; done")]
    [InlineData("echo \"$(date)\" && ls")]
    public void An_argument_bash_fills_in_where_it_cannot_become_an_option_or_code_stays_allowed(string command)
    {
        Assert.All(Forms(command), form => Assert.Empty(DefaultCheck(form)));
    }
}
