// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {decimal} from "./RevertText.sol";

/// @title Coordination state of swarm trainings.
/// @notice SN operators register node accounts; registered nodes join named trainings and run numbered sync
///         rounds: check in, close (quorum), publish the merged model, start the next round.
/// @dev Revert reasons are short sentences shown to users. A reset training keeps its old state in storage under
///      an older generation, so nothing ever written is erased.
contract SwarmTraining {
    struct Node {
        string identity;
        string kind;
        string host;
        uint32 port;
        uint64 lastSeen;
        bool registered;
        uint64 registeredBlock; // the block of its latest registration: a node registers once per run
    }

    struct Member {
        bool joined;
        bool finished;
        bool eligible;
        uint32 leaderTimeout;
        int128 lossE9;
        int128 metricE9;
        uint32 epochsDone;
        uint32 totalEpochs;
    }

    struct CheckIn {
        bool exists;
        string uri;
        uint32 weightage;
        uint64 samples;
        bool isFinal;
        uint64 atBlock;
    }

    struct Round {
        address[] participants;
        address leader;
        bool closed;
        bool merged;
        bool isFinal;
        uint64 openedAt;
        uint64 quorumAt;
        uint64 closedAt;
        uint64 leaderSince; // when the current leader was chosen (first eligible check-in or take-over)
        string mergedUri;
        bytes32 digest;
        address[] excluded;
        mapping(address => CheckIn) checkIns;
    }

    /// One generation of a training: everything a reset forgets.
    struct Training {
        uint32 mergedRounds;
        uint32 minPeers;
        bool over;
        uint32 finishedCount;
        address[] members;
        mapping(address => Member) memberOf;
        mapping(uint32 => Round) rounds;
    }

    // ---- operators and nodes ----
    mapping(address => bool) public isOperator;
    address[] private operatorList;

    mapping(address => Node) private nodes;
    address[] private nodeList;
    mapping(address => bool) private listed;
    mapping(bytes32 => address) private accountByIdentity;

    // ---- trainings ----
    mapping(bytes32 => bool) private trainingExists;
    mapping(bytes32 => uint32) private generationOf;
    string[] private names;
    mapping(bytes32 => Training) private trainings; // key: keccak(nameKey, generation)

    event OperatorAdded(address indexed operator, address indexed by);
    event NodeRegistered(address indexed account, string identity, string kind, string host, uint32 port);
    event NodeMoved(string identity, address indexed oldAccount, address indexed newAccount);
    event Heartbeat(address indexed account, uint64 at);
    event TrainingCreated(string name, address indexed by);
    event TrainingReset(string name, uint32 generation, address indexed by);
    event Joined(string name, address indexed member, uint32 minPeers, bool eligibleLeader);
    event CheckedIn(string name, uint32 indexed round, address indexed member, string uri, bool isFinal);
    event LeaderChosen(string name, uint32 indexed round, address indexed leader);
    event RoundClosed(string name, uint32 indexed round, uint32 participants);
    event MergePublished(string name, uint32 indexed round, string uri, bytes32 digest, bool isFinal);
    event TrainingOver(string name, uint32 round);
    event ProgressReported(string name, address indexed member, int128 lossE9, int128 metricE9, uint32 epochsDone);
    event MemberFinished(string name, address indexed member);

    modifier onlyOperator() {
        require(isOperator[msg.sender], "only an SN operator may do this");
        _;
    }

    modifier onlyNode() {
        require(nodes[msg.sender].registered, "not a registered node");
        _;
    }

    constructor(string memory defaultTraining) {
        isOperator[msg.sender] = true;
        operatorList.push(msg.sender);
        emit OperatorAdded(msg.sender, msg.sender);
        _create(defaultTraining);
    }

    // =====================================================================================================
    // Operators and node registry
    // =====================================================================================================

    function addOperator(address account) external onlyOperator {
        require(account != address(0), "operator must not be the zero address");
        if (!isOperator[account]) {
            isOperator[account] = true;
            operatorList.push(account);
        }
        emit OperatorAdded(account, msg.sender);
    }

    function operators() external view returns (address[] memory) {
        return operatorList;
    }

    function registerNode(address account, string calldata identity, string calldata kind, string calldata host,
                          uint32 port) external onlyOperator {
        require(account != address(0), "node account must not be the zero address");
        require(bytes(identity).length > 0, "identity must not be empty");
        bytes32 idKey = keccak256(bytes(identity));
        Node storage n = nodes[account];
        require(!n.registered || keccak256(bytes(n.identity)) == idKey,
                string.concat("account already belongs to ", n.identity));
        address previous = accountByIdentity[idKey];
        if (previous != address(0) && previous != account) {
            nodes[previous].registered = false;
            emit NodeMoved(identity, previous, account);
        }
        accountByIdentity[idKey] = account;
        n.identity = identity;
        n.kind = kind;
        n.host = host;
        n.port = port;
        n.lastSeen = uint64(block.timestamp);
        n.registered = true;
        n.registeredBlock = uint64(block.number);
        if (!listed[account]) {
            listed[account] = true;
            nodeList.push(account);
        }
        emit NodeRegistered(account, identity, kind, host, port);
    }

    function heartbeat() external onlyNode {
        nodes[msg.sender].lastSeen = uint64(block.timestamp);
        emit Heartbeat(msg.sender, uint64(block.timestamp));
    }

    function nodeCount() external view returns (uint256) {
        return nodeList.length;
    }

    function nodeAt(uint256 index) external view returns (address) {
        require(index < nodeList.length, "node index out of range");
        return nodeList[index];
    }

    function getNode(address account) external view returns (string memory identity, string memory kind,
        string memory host, uint32 port, uint64 lastSeen, bool registered) {
        Node storage n = nodes[account];
        return (n.identity, n.kind, n.host, n.port, n.lastSeen, n.registered);
    }

    function accountOf(string calldata identity) external view returns (address) {
        return accountByIdentity[keccak256(bytes(identity))];
    }

    // =====================================================================================================
    // Trainings
    // =====================================================================================================

    function createTraining(string calldata name) external {
        require(nodes[msg.sender].registered || isOperator[msg.sender], "not a registered node");
        _create(name);
        emit TrainingCreated(name, msg.sender);
    }

    function trainingNames() external view returns (string[] memory) {
        return names;
    }

    function resetTraining(string calldata name) external {
        require(nodes[msg.sender].registered || isOperator[msg.sender], "not a registered node");
        bytes32 key = _existing(name);
        uint32 generation = generationOf[key] + 1;
        generationOf[key] = generation;
        _state(key).rounds[1].openedAt = uint64(block.timestamp);
        emit TrainingReset(name, generation, msg.sender);
    }

    function joinTraining(string calldata name, uint32 minPeers, bool eligibleLeader, uint32 leaderTimeoutSeconds)
        external onlyNode {
        require(minPeers > 0, "minPeers must be at least 1");
        Training storage t = _state(_existing(name));
        if (t.minPeers == 0) {
            t.minPeers = minPeers;
        } else {
            require(t.minPeers == minPeers, string.concat("minPeers mismatch: training uses ", decimal(t.minPeers),
                                                          ", this node asked for ", decimal(minPeers)));
        }
        Member storage m = t.memberOf[msg.sender];
        if (!m.joined) {
            m.joined = true;
            t.members.push(msg.sender);
        }
        m.eligible = eligibleLeader;
        m.leaderTimeout = leaderTimeoutSeconds;
        emit Joined(name, msg.sender, minPeers, eligibleLeader);
    }

    // =====================================================================================================
    // Sync rounds
    // =====================================================================================================

    function checkIn(string calldata name, uint32 round, string calldata uri, uint32 weightage, uint64 samples,
                     bool isFinal) external onlyNode {
        Training storage t = _state(_existing(name));
        Member storage m = _member(t);
        require(!t.over, "training is over");
        Round storage r = _currentRound(t, round);
        CheckIn storage c = r.checkIns[msg.sender];
        bool again = c.exists;
        // A participant that checks in again (a restarted node: same identity, new session) replaces its earlier
        // contribution, also in a closed round, until the round is merged (the current round never is). The set of
        // participants and the leader stay as they are.
        require(again || !r.closed, string.concat("round ", decimal(round), " is closed"));
        c.exists = true;
        c.uri = uri;
        c.weightage = weightage;
        c.samples = samples;
        c.isFinal = isFinal;
        c.atBlock = uint64(block.number);
        emit CheckedIn(name, round, msg.sender, uri, isFinal);
        if (again) {
            return;
        }
        r.participants.push(msg.sender);
        if (r.participants.length == t.minPeers) {
            r.quorumAt = uint64(block.timestamp);
        }
        if (r.leader == address(0) && m.eligible) {
            r.leader = msg.sender;
            r.leaderSince = uint64(block.timestamp);
            emit LeaderChosen(name, round, msg.sender);
        }
    }

    function closeRound(string calldata name, uint32 round) external onlyNode {
        Training storage t = _state(_existing(name));
        Round storage r = _currentRound(t, round);
        require(!r.closed, string.concat("round ", decimal(round), " is closed"));
        require(r.leader == msg.sender, "only the round's leader may do this");
        require(r.participants.length >= t.minPeers, string.concat("quorum not reached: ",
                decimal(r.participants.length), " of ", decimal(t.minPeers)));
        r.closed = true;
        r.closedAt = uint64(block.timestamp);
        emit RoundClosed(name, round, uint32(r.participants.length));
    }

    function publishMerge(string calldata name, uint32 round, string calldata uri, bytes32 digest,
                          address[] calldata excluded, bool isFinal) external onlyNode {
        Training storage t = _state(_existing(name));
        Round storage r = _currentRound(t, round);
        require(r.leader == msg.sender, "only the round's leader may do this");
        require(r.closed, string.concat("round ", decimal(round), " is not closed yet"));
        for (uint256 i = 0; i < excluded.length; i++) {
            require(r.checkIns[excluded[i]].exists, "excluded peer did not check in to this round");
        }
        if (isFinal) {
            for (uint256 i = 0; i < r.participants.length; i++) {
                address p = r.participants[i];
                require(r.checkIns[p].isFinal || _contains(excluded, p),
                        "final merge needs every non-excluded participant to check in as final");
            }
        }
        r.merged = true;
        r.mergedUri = uri;
        r.digest = digest;
        r.excluded = excluded;
        r.isFinal = isFinal;
        emit MergePublished(name, round, uri, digest, isFinal);
        t.mergedRounds = round;
        t.rounds[round + 1].openedAt = uint64(block.timestamp);
        if (isFinal) {
            t.over = true;
            emit TrainingOver(name, round);
        }
    }

    function takeOverLeadership(string calldata name, uint32 round) external onlyNode {
        Training storage t = _state(_existing(name));
        Member storage m = _member(t);
        Round storage r = _currentRound(t, round);
        require(r.checkIns[msg.sender].exists, "only a participant of the round may lead it");
        require(m.eligible, "this node is not eligible to lead");
        require(r.leader != msg.sender, "already the leader");
        if (r.leader != address(0)) {
            uint64 since = r.closed ? r.closedAt : r.quorumAt;
            require(since != 0, string.concat("quorum not reached: ", decimal(r.participants.length), " of ",
                                              decimal(t.minPeers)));
            if (r.leaderSince > since) {
                since = r.leaderSince; // a leader that took over has its own full timeout
            }
            require(block.timestamp >= uint256(since) + m.leaderTimeout, "the leader has not timed out yet");
        }
        r.leader = msg.sender;
        r.leaderSince = uint64(block.timestamp);
        emit LeaderChosen(name, round, msg.sender);
    }

    function reportProgress(string calldata name, int128 lossE9, int128 metricE9, uint32 epochsDone,
                            uint32 totalEpochs) external onlyNode {
        Member storage m = _member(_state(_existing(name)));
        m.lossE9 = lossE9;
        m.metricE9 = metricE9;
        m.epochsDone = epochsDone;
        m.totalEpochs = totalEpochs;
        emit ProgressReported(name, msg.sender, lossE9, metricE9, epochsDone);
    }

    function finishTraining(string calldata name) external onlyNode {
        Training storage t = _state(_existing(name));
        Member storage m = _member(t);
        if (!m.finished) {
            m.finished = true;
            t.finishedCount += 1;
        }
        emit MemberFinished(name, msg.sender);
    }

    // =====================================================================================================
    // Views
    // =====================================================================================================

    function getTraining(string calldata name) external view returns (bool exists, uint32 currentRound,
        uint32 minPeers, bool over, uint256 memberCount, uint32 finishedCount) {
        bytes32 key = keccak256(bytes(name));
        if (!trainingExists[key]) {
            return (false, 0, 0, false, 0, 0);
        }
        Training storage t = _state(key);
        return (true, t.mergedRounds + 1, t.minPeers, t.over, t.members.length, t.finishedCount);
    }

    function getMembers(string calldata name) external view returns (address[] memory) {
        return _state(keccak256(bytes(name))).members;
    }

    function getMember(string calldata name, address account) external view returns (bool joined, bool finished,
        bool eligible, int128 lossE9, int128 metricE9, uint32 epochsDone, uint32 totalEpochs) {
        Member storage m = _state(keccak256(bytes(name))).memberOf[account];
        return (m.joined, m.finished, m.eligible, m.lossE9, m.metricE9, m.epochsDone, m.totalEpochs);
    }

    function getLeaderTimeout(string calldata name, address account) external view returns (uint32) {
        return _state(keccak256(bytes(name))).memberOf[account].leaderTimeout;
    }

    function getRound(string calldata name, uint32 round) external view returns (address[] memory participants,
        address leader, bool closed, bool merged, string memory mergedUri, bytes32 digest,
        address[] memory excluded, uint64 openedAt, uint64 closedAt, bool isFinal) {
        Round storage r = _state(keccak256(bytes(name))).rounds[round];
        return (r.participants, r.leader, r.closed, r.merged, r.mergedUri, r.digest, r.excluded, r.openedAt,
                r.closedAt, r.isFinal);
    }

    function getQuorumAt(string calldata name, uint32 round) external view returns (uint64) {
        return _state(keccak256(bytes(name))).rounds[round].quorumAt;
    }

    /// @dev `stale` is true when the check-in was made by an earlier run of the node: the node has registered again
    ///         since (a restart), or its identity moved to another account. Its weights went with that run.
    function getCheckIn(string calldata name, uint32 round, address account) external view returns (bool exists,
        string memory uri, uint32 weightage, uint64 samples, bool isFinal, bool stale) {
        CheckIn storage c = _state(keccak256(bytes(name))).rounds[round].checkIns[account];
        Node storage n = nodes[account];
        stale = c.exists && (!n.registered || c.atBlock < n.registeredBlock);
        return (c.exists, c.uri, c.weightage, c.samples, c.isFinal, stale);
    }

    // =====================================================================================================
    // Internals
    // =====================================================================================================

    function _create(string memory name) private {
        require(bytes(name).length > 0, "training name must not be empty");
        bytes32 key = keccak256(bytes(name));
        require(!trainingExists[key], "training exists");
        trainingExists[key] = true;
        names.push(name);
        _state(key).rounds[1].openedAt = uint64(block.timestamp);
    }

    function _existing(string calldata name) private view returns (bytes32 key) {
        key = keccak256(bytes(name));
        require(trainingExists[key], string.concat("no such training: ", name));
    }

    function _state(bytes32 key) private view returns (Training storage) {
        return trainings[keccak256(abi.encode(key, generationOf[key]))];
    }

    function _member(Training storage t) private view returns (Member storage m) {
        m = t.memberOf[msg.sender];
        require(m.joined, "this node has not joined the training");
    }

    function _currentRound(Training storage t, uint32 round) private view returns (Round storage) {
        uint32 current = t.mergedRounds + 1;
        require(round == current, string.concat("wrong round: current is ", decimal(current)));
        return t.rounds[round];
    }

    function _contains(address[] calldata list, address a) private pure returns (bool) {
        for (uint256 i = 0; i < list.length; i++) {
            if (list[i] == a) {
                return true;
            }
        }
        return false;
    }
}
